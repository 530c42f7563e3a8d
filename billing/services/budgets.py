"""Budget reservations: reserve, shrink, settle, expire.

Holds, shrinks and settlements are single statements (a shrink's is below; the others are the
billing_reserve and billing_settle database functions of migration 0005), so the tenant's
budget row, which every question of the tenant touches, is locked for microseconds. Locking
order, everywhere: a reservation row, then the member's budget-period row, then the tenant's.
Those transactions commit without waiting for the WAL flush (BUDGET_ASYNC_COMMIT): a crash can
lose the last fraction of a second of holds, never a ledger row, and settlement and expiry
recompute spend from the ledger.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.contracts import Quota
from accounts.errors import ValidationFailed
from accounts.models import Tenant, User
from accounts.selectors import tenant_quota_get
from billing.contracts import Reservation, Settlement
from billing.models import Reservation as ReservationRow
from billing.services.budget_periods import (
    async_commit,
    budget_gauges_set,
    budget_refusal,
    period_apply,
)
from billing.services.budget_warnings import (
    budget_warning_if_due,
    budget_warning_send,
    warning_ratio,
)
from billing.services.ledger import QueryTotals, period_start_for, query_totals

logger = logging.getLogger(__name__)

ZERO = Decimal(0)


_RESERVE_SQL = """
SELECT reservation_id, refused, limit_usd, spent_usd
  FROM billing_reserve(%s::bigint, %s::bigint, %s::uuid, %s::date, %s::numeric, %s::bigint,
                       %s::numeric, %s::bigint, %s::numeric, %s::timestamptz, %s::timestamptz,
                       %s::boolean)
"""

_last_sweep: dict[int, datetime] = {}


def _sweep_due(tenant_id: int, now: datetime) -> bool:
    """Whether this process should look for stale holds of the tenant now (every
    BUDGET_EXPIRY_SWEEP_SECONDS; a refusal always looks, so stale holds never refuse anyone)."""
    every = timedelta(seconds=int(settings.BUDGET_EXPIRY_SWEEP_SECONDS))
    last = _last_sweep.get(tenant_id)
    if last is not None and last <= now < last + every:
        return False
    _last_sweep[tenant_id] = now
    return True


def budget_reserve(
    *,
    tenant: Tenant,
    user: User | None,
    query_id: uuid.UUID,
    amount_usd: Decimal,
    tokens: int,
    quota: Quota | None = None,
    user_cap_usd: Decimal | None = None,
    now: datetime | None = None,
) -> Reservation:
    """Hold a query's worst-case cost and tokens on the tenant's budget (and on the member's
    cap, when set) for this month, atomically in one statement (billing_reserve, migration
    0005). Stale holds are expired first when due, and always before a refusal, so no cron is
    needed. Call it outside a transaction: the hold commits on its own.

    Raises BudgetExhausted (402) naming the limit and its reset date when the period is at 100%
    or the hold does not fit; ValidationFailed for a negative amount.
    """
    if amount_usd < 0 or tokens < 0:
        raise ValidationFailed("A reservation cannot be negative.")
    now = now or timezone.now()
    quota = quota or tenant_quota_get(tenant=tenant)
    period = period_start_for(now)
    ttl = timedelta(seconds=int(settings.BUDGET_RESERVATION_TTL_SECONDS))
    user_id = user.pk if user is not None else None
    if _sweep_due(tenant.pk, now):
        reservations_expire(tenant=tenant, now=now)
    params = [
        tenant.pk,
        user_id,
        query_id,
        period,
        amount_usd,
        tokens,
        quota.monthly_budget_usd,
        quota.monthly_token_allowance,
        user_cap_usd,
        now,
        now + ttl,
        bool(settings.BUDGET_ASYNC_COMMIT),
    ]
    reservation_id, refused, limit_usd, spent_usd = _reserve_run(params, tenant=tenant, now=now)
    if refused:
        scope_user = refused == "user"
        raise budget_refusal(
            tenant=tenant,
            user_id=user_id if scope_user else None,
            period=period,
            amount=amount_usd,
            tokens=tokens,
            limit_usd=user_cap_usd if scope_user else quota.monthly_budget_usd,
            limit_tokens=None if scope_user else quota.monthly_token_allowance,
        )
    used = (spent_usd / limit_usd) if limit_usd else Decimal(0)
    return Reservation(
        id=reservation_id,
        tenant_id=tenant.pk,
        user_id=user_id,
        query_id=query_id,
        period_start=period,
        amount_usd=amount_usd,
        tokens=tokens,
        expires_at=now + ttl,
        budget_used_ratio=used,
        budget_warning=bool(limit_usd) and used >= warning_ratio(),
    )


def _reserve_run(params: list[Any], *, tenant: Tenant, now: datetime) -> tuple[Any, ...]:
    """billing_reserve's (reservation id, refused scope, limit, spent); a refusal is tried once
    more after expiring the tenant's stale holds."""
    with connection.cursor() as cursor:
        cursor.execute(_RESERVE_SQL, params)
        outcome = cursor.fetchone()
        if outcome[1] and reservations_expire(tenant=tenant, now=now):
            cursor.execute(_RESERVE_SQL, params)  # the stale holds are gone: try again
            outcome = cursor.fetchone()
    return tuple(outcome)


# One statement, so a shrink is one round trip like a hold or a settlement. The member's row is
# updated before the tenant's (the tenant's UPDATE joins the count of the member's, so it cannot
# take its row lock first): the one locking order, after the reservation's own row.
_SHRINK_SQL = """
WITH held AS (
    SELECT id, amount_usd, tokens,
           set_config('synchronous_commit',
                      CASE WHEN %(async)s THEN 'off' ELSE current_setting('synchronous_commit') END,
                      true) AS commit_mode
      FROM billing_reservation
     WHERE id = %(reservation)s AND status = 'active'
       FOR UPDATE
), lowered AS (
    UPDATE billing_reservation r
       SET amount_usd = LEAST(held.amount_usd, %(amount)s),
           tokens = LEAST(held.tokens, %(tokens)s)
      FROM held
     WHERE r.id = held.id AND (held.amount_usd > %(amount)s OR held.tokens > %(tokens)s)
 RETURNING r.tenant_id, r.user_id, r.period_start, r.amount_usd, r.tokens,
           r.amount_usd - held.amount_usd AS d_usd, r.tokens - held.tokens AS d_tokens
), member AS (
    UPDATE billing_budgetperiod b
       SET reserved_usd = GREATEST(b.reserved_usd + l.d_usd, 0),
           reserved_tokens = GREATEST(b.reserved_tokens + l.d_tokens, 0),
           updated_at = %(now)s
      FROM lowered l
     WHERE b.tenant_id = l.tenant_id AND b.user_id = l.user_id
       AND b.period_start = l.period_start
 RETURNING b.id
), tenant AS (
    UPDATE billing_budgetperiod b
       SET reserved_usd = GREATEST(b.reserved_usd + l.d_usd, 0),
           reserved_tokens = GREATEST(b.reserved_tokens + l.d_tokens, 0),
           updated_at = %(now)s
      FROM lowered l, (SELECT count(*) FROM member) AS member_done
     WHERE b.tenant_id = l.tenant_id AND b.user_id IS NULL AND b.period_start = l.period_start
 RETURNING b.id
)
SELECT amount_usd, tokens FROM lowered
"""


def reservation_shrink(
    *, reservation: Reservation, amount_usd: Decimal, tokens: int, now: datetime | None = None
) -> Reservation:
    """Lower an active hold once a better estimate is known (never raises it: a hold that grows
    mid-answer could fail where the user cannot be told cleanly), in one statement. Call it
    outside a transaction: it commits on its own. Returns the reservation as it now stands."""
    with connection.cursor() as cursor:
        cursor.execute(
            _SHRINK_SQL,
            {
                "reservation": reservation.id,
                "amount": max(ZERO, amount_usd),
                "tokens": max(0, tokens),
                "now": now or timezone.now(),
                "async": bool(settings.BUDGET_ASYNC_COMMIT),
            },
        )
        row = cursor.fetchone()
    if row is None:  # not active any more, or nothing to lower
        return reservation
    new_amount, new_tokens = row
    return Reservation(
        id=reservation.id,
        tenant_id=reservation.tenant_id,
        user_id=reservation.user_id,
        query_id=reservation.query_id,
        period_start=reservation.period_start,
        amount_usd=new_amount,
        tokens=int(new_tokens),
        expires_at=reservation.expires_at,
        budget_used_ratio=reservation.budget_used_ratio,
        budget_warning=reservation.budget_warning,
    )


_SETTLE_SQL = """
SELECT prior_status, amount_usd, limit_usd, spent_usd, limit_tokens, spent_tokens, warned
  FROM billing_settle(%s::bigint, %s::numeric, %s::bigint, %s::timestamptz, %s::numeric,
                      %s::boolean)
"""


def reservation_settle(
    *,
    reservation: Reservation,
    tenant: Tenant | None = None,
    totals: QueryTotals | None = None,
    now: datetime | None = None,
) -> Settlement:
    """Settle a hold to what the query actually cost, read from its ledger rows (or `totals`,
    when the caller has just summed them), and release the rest, in one statement
    (billing_settle, migration 0005). Idempotent; a hold that already expired gets its spend
    corrected to the ledger. Sends the 90% warning (once per period) when this spend crosses
    it, after the commit."""
    now = now or timezone.now()
    totals = totals or query_totals(tenant=reservation.tenant_id, query_id=reservation.query_id)
    actual, actual_tokens = totals.cost_usd, totals.tokens
    with connection.cursor() as cursor:
        cursor.execute(
            _SETTLE_SQL,
            [
                reservation.id,
                actual,
                actual_tokens,
                now,
                warning_ratio(),
                bool(settings.BUDGET_ASYNC_COMMIT),
            ],
        )
        prior, held, limit_usd, spent_usd, limit_tokens, spent_tokens, warned = cursor.fetchone()
    if prior is None or prior == ReservationRow.Status.SETTLED:
        return Settlement(
            query_id=reservation.query_id,
            reserved_usd=held if held is not None else reservation.amount_usd,
            actual_usd=actual,
            actual_tokens=actual_tokens,
            released_usd=ZERO,
        )
    if warned:
        tenant_id, period = reservation.tenant_id, reservation.period_start
        transaction.on_commit(
            lambda: budget_warning_send(tenant_id=tenant_id, period_start=period), robust=True
        )
    budget_gauges_set(
        tenant=tenant,
        tenant_id=reservation.tenant_id,
        limit_usd=limit_usd,
        spent_usd=spent_usd,
        limit_tokens=limit_tokens,
        spent_tokens=spent_tokens,
    )
    if prior == ReservationRow.Status.ACTIVE and actual > held:
        logger.warning(
            "Query %s cost $%s, more than its $%s hold (token estimate too low?)",
            reservation.query_id,
            actual,
            held,
        )
    released = max(ZERO, held - actual) if prior == ReservationRow.Status.ACTIVE else ZERO
    return Settlement(
        query_id=reservation.query_id,
        reserved_usd=held,
        actual_usd=actual,
        actual_tokens=actual_tokens,
        released_usd=released,
        warning_sent=bool(warned),
    )


_EXPIRE_SQL = """
WITH stale AS (
    SELECT id FROM billing_reservation
     WHERE tenant_id = %(tenant)s AND status = 'active' AND expires_at < %(now)s
     ORDER BY id
       FOR UPDATE SKIP LOCKED
)
UPDATE billing_reservation r
   SET status = 'expired', closed_at = %(now)s
  FROM stale
 WHERE r.id = stale.id
RETURNING r.id, r.user_id, r.query_id, r.period_start, r.amount_usd, r.tokens
"""


def reservations_expire(*, tenant: Tenant, now: datetime | None = None) -> int:
    """Release the tenant's holds older than BUDGET_RESERVATION_TTL_SECONDS (their answers died
    without settling), counting what their ledger rows show was spent. Returns how many."""
    now = now or timezone.now()
    with transaction.atomic():
        async_commit()
        with connection.cursor() as cursor:
            cursor.execute(_EXPIRE_SQL, {"tenant": tenant.pk, "now": now})
            stale = cursor.fetchall()
        if not stale:
            return 0
        deltas: dict[tuple[int | None, date], list[Any]] = defaultdict(lambda: [ZERO, 0, ZERO, 0])
        for row_id, user_id, query_id, period, amount, tokens in stale:
            totals = query_totals(tenant=tenant.pk, query_id=query_id)
            ReservationRow.objects.filter(pk=row_id).update(
                actual_usd=totals.cost_usd, actual_tokens=totals.tokens
            )
            keys = [(None, period)] if user_id is None else [(user_id, period), (None, period)]
            for key in keys:
                delta = deltas[key]
                delta[0] -= amount
                delta[1] -= tokens
                delta[2] += totals.cost_usd
                delta[3] += totals.tokens
        # Members first in id order, then the tenant: the one locking order.
        ordered = sorted(
            deltas.items(), key=lambda item: (item[0][0] is None, item[0][0] or 0, item[0][1])
        )
        for (user_id, period), (d_res, d_res_tokens, d_spent, d_spent_tokens) in ordered:
            row = period_apply(
                tenant_id=tenant.pk,
                user_id=user_id,
                period=period,
                d_reserved=d_res,
                d_reserved_tokens=d_res_tokens,
                d_spent=d_spent,
                d_spent_tokens=d_spent_tokens,
                now=now,
            )
            if user_id is None:
                budget_warning_if_due(tenant_id=tenant.pk, period=period, row=row, now=now)
    logger.info("Expired %d stale budget reservation(s) of tenant %s", len(stale), tenant.slug)
    return len(stale)
