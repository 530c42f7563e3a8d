"""Budget status (this month's spend, holds and limits of a workspace or one member) and the
ledger rows of one query."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from accounts.errors import NotFound
from accounts.models import Membership, Tenant, User
from accounts.selectors import tenant_quota_get
from billing.contracts import BudgetStatus
from billing.models import BudgetPeriod, LedgerEntry
from billing.services import period_resets_at, period_start_for

ZERO = Decimal(0)


def _warning_ratio() -> Decimal:
    return Decimal(str(settings.BUDGET_WARNING_RATIO))


# --- Budgets -----------------------------------------------------------------------------


def budget_status_get(
    *, tenant: Tenant, user: User | None = None, now: datetime | None = None
) -> BudgetStatus:
    """This month's budget of the tenant, or of the member (their cap) when `user` is given."""
    now = now or timezone.now()
    period = period_start_for(now)
    row = BudgetPeriod.objects.filter(tenant=tenant, user=user, period_start=period).first()
    if user is None:
        quota = tenant_quota_get(tenant=tenant)
        limit_usd: Decimal | None = quota.monthly_budget_usd
        limit_tokens: int | None = quota.monthly_token_allowance
    else:
        membership = Membership.objects.filter(tenant=tenant, user=user).first()
        limit_usd = membership.monthly_budget_usd_cap if membership else None
        limit_tokens = None
    return BudgetStatus(
        scope="user" if user is not None else "tenant",
        period_start=period,
        resets_at=period_resets_at(period),
        limit_usd=limit_usd,
        spent_usd=row.spent_usd if row else ZERO,
        reserved_usd=row.reserved_usd if row else ZERO,
        limit_tokens=limit_tokens,
        spent_tokens=row.spent_tokens if row else 0,
        reserved_tokens=row.reserved_tokens if row else 0,
        warning_ratio=_warning_ratio(),
    )


def query_cost_lines(
    *, tenant: Tenant, query_id: uuid.UUID, user: User | None = None
) -> list[LedgerEntry]:
    """Every ledger row of one query (calls first, then the summary). `user` limits it to that
    member's own queries. NotFound when the tenant (or member) has no such query."""
    rows = LedgerEntry.objects.filter(tenant=tenant, query_id=query_id)
    if user is not None:
        rows = rows.filter(user=user)
    found = list(rows.order_by("created_at", "id"))
    if not found:
        raise NotFound("Query not found.")
    return sorted(found, key=lambda r: (r.kind == LedgerEntry.Kind.QUERY, r.created_at, r.pk))
