"""Budget-period rows (one per tenant, and per capped member, per month): the conditional update
that moves holds and spend, the 402 a refused hold gets (judged from the row), and the budget
gauges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from accounts.errors import BudgetExhausted
from accounts.models import Tenant
from billing.models import BudgetPeriod
from billing.services.ledger import period_resets_at
from monitoring import metrics

ZERO = Decimal(0)

_APPLY_SQL = """
UPDATE billing_budgetperiod
   SET reserved_usd = GREATEST(reserved_usd + %(d_reserved)s, 0),
       reserved_tokens = GREATEST(reserved_tokens + %(d_reserved_tokens)s, 0),
       spent_usd = spent_usd + %(d_spent)s,
       spent_tokens = spent_tokens + %(d_spent_tokens)s,
       updated_at = %(now)s
 WHERE tenant_id = %(tenant)s AND {user_match} AND period_start = %(period)s
RETURNING id, limit_usd, spent_usd, reserved_usd, limit_tokens, spent_tokens, reserved_tokens,
          warning_sent_at
"""


def _period_rows(*, tenant_id: int, user_id: int | None, period: date) -> QuerySet[BudgetPeriod]:
    rows = BudgetPeriod.objects.filter(tenant_id=tenant_id, period_start=period)
    return rows.filter(user__isnull=True) if user_id is None else rows.filter(user_id=user_id)


def _user_match(user_id: int | None) -> str:
    return "user_id IS NULL" if user_id is None else "user_id = %(user)s"


def async_commit() -> None:
    """Let this transaction commit without waiting for the WAL flush (BUDGET_ASYNC_COMMIT)."""
    if settings.BUDGET_ASYNC_COMMIT:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


@dataclass(frozen=True)
class PeriodRow:
    """A budget-period row as period_apply's RETURNING gives it."""

    id: int
    limit_usd: Decimal | None
    spent_usd: Decimal
    reserved_usd: Decimal
    limit_tokens: int | None
    spent_tokens: int
    reserved_tokens: int
    warning_sent_at: datetime | None


def period_apply(
    *,
    tenant_id: int,
    user_id: int | None,
    period: date,
    d_reserved: Decimal = ZERO,
    d_reserved_tokens: int = 0,
    d_spent: Decimal = ZERO,
    d_spent_tokens: int = 0,
    now: datetime,
) -> PeriodRow | None:
    """Move a period row's holds and spend by these deltas in one statement (holds never go
    below zero); the row as it now stands, or None when there is none."""
    with connection.cursor() as cursor:
        cursor.execute(
            _APPLY_SQL.format(user_match=_user_match(user_id)),
            {
                "tenant": tenant_id,
                "user": user_id,
                "period": period,
                "d_reserved": d_reserved,
                "d_reserved_tokens": d_reserved_tokens,
                "d_spent": d_spent,
                "d_spent_tokens": d_spent_tokens,
                "now": now,
            },
        )
        row = cursor.fetchone()
    return PeriodRow(*row) if row is not None else None


def budget_gauges_set(
    *,
    tenant: Tenant | None,
    tenant_id: int,
    limit_usd: Decimal | None,
    spent_usd: Decimal | None,
    limit_tokens: int | None,
    spent_tokens: int | None,
) -> None:
    """The tenant's budget and token gauges after a settlement."""
    label = tenant.slug if tenant is not None else str(tenant_id)
    if limit_usd is not None and spent_usd is not None:
        metrics.BUDGET_ALLOCATED_USD.labels(tenant=label).set(float(limit_usd))
        metrics.BUDGET_REMAINING_USD.labels(tenant=label).set(
            float(max(ZERO, limit_usd - spent_usd))
        )
    if limit_tokens is not None and spent_tokens is not None:
        metrics.TOKENS_ALLOCATED.labels(tenant=label).set(limit_tokens)
        metrics.TOKENS_REMAINING.labels(tenant=label).set(max(0, limit_tokens - spent_tokens))


def budget_refusal(
    *,
    tenant: Tenant,
    user_id: int | None,
    period: date,
    amount: Decimal,
    tokens: int,
    limit_usd: Decimal | None,
    limit_tokens: int | None,
) -> BudgetExhausted:
    """The 402 for a refused hold, judged against the live limits (the row keeps the limits of
    the last hold that landed)."""
    row = _period_rows(tenant_id=tenant.pk, user_id=user_id, period=period).first()
    resets_at = period_resets_at(period)
    scope = "user" if user_id is not None else "tenant"
    owner = "your personal monthly cap" if scope == "user" else "this workspace's monthly budget"
    details: dict[str, Any] = {"scope": scope, "resets_at": resets_at.isoformat()}
    if row is None:  # the row vanished under us; report what was asked
        return BudgetExhausted(details=details)
    committed_usd = row.spent_usd + row.reserved_usd
    committed_tokens = row.spent_tokens + row.reserved_tokens
    money_short = limit_usd is not None and (
        committed_usd >= limit_usd or committed_usd + amount > limit_usd
    )
    if money_short and limit_usd is not None:
        limit_label = f"${limit_usd.quantize(Decimal('0.01'))}"
        details.update(
            limit="monthly_budget_usd" if scope == "tenant" else "monthly_budget_usd_cap",
            limit_usd=str(limit_usd),
            spent_usd=str(row.spent_usd),
            reserved_usd=str(row.reserved_usd),
            requested_usd=str(amount),
        )
        at_limit = committed_usd >= limit_usd
    else:
        limit_label = f"{limit_tokens or 0:,} tokens"
        details.update(
            limit="monthly_token_allowance",
            limit_tokens=limit_tokens,
            spent_tokens=row.spent_tokens,
            reserved_tokens=row.reserved_tokens,
            requested_tokens=tokens,
        )
        at_limit = limit_tokens is not None and committed_tokens >= limit_tokens
    when = f"{resets_at:%Y-%m-%d} (UTC)"
    if at_limit:
        message = f"{owner.capitalize()} of {limit_label} is used up; it resets on {when}."
    else:
        message = (
            f"This question could cost more than what is left of {owner} of {limit_label} "
            f"(answers in progress hold part of it); it resets on {when}."
        )
    return BudgetExhausted(message, details=details)
