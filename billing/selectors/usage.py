"""The usage page's figures for one workspace (or one member of it) over a window: cost per day,
per provider, and the totals. Read straight from the ledger: the window starts at any moment the
page picks and the member filter has no rollup, so the daily buckets would not answer these;
never another tenant's rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, F, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from accounts.models import Tenant, User
from billing.models import MONEY_MAX_DIGITS, MONEY_PLACES, LedgerEntry

MONEY_ZERO = Decimal(0).quantize(Decimal(10) ** -MONEY_PLACES)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class DayCost:
    """One UTC day of questions: their summed cost and how many there were."""

    day: date
    cost_usd: Decimal
    query_count: int


@dataclass(frozen=True)
class ProviderCallCost:
    """One provider's model and embedding calls: their summed cost and how many there were."""

    provider: str
    cost_usd: Decimal
    calls: int


@dataclass(frozen=True)
class UsageTotals:
    """Questions over a window: summed cost, how many, and their input plus output tokens."""

    cost_usd: Decimal
    query_count: int
    total_tokens: int


def _cost_sum() -> Coalesce:
    """The sum of cost_usd, zero (not NULL) over no rows, at the ledger's precision."""
    return Coalesce(
        Sum("cost_usd"),
        Value(MONEY_ZERO),
        output_field=DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES),
    )


def _usage_rows(
    *, tenant: Tenant, since: datetime, now: datetime, user: User | None
) -> QuerySet[LedgerEntry]:
    rows = LedgerEntry.objects.filter(tenant=tenant, created_at__gte=since, created_at__lte=now)
    return rows if user is None else rows.filter(user_id=user.pk)


def usage_cost_by_day(
    *, tenant: Tenant, since: datetime, user: User | None = None, now: datetime | None = None
) -> list[DayCost]:
    """The tenant's (or, with `user`, that member's) questions and their cost per UTC day from
    `since` to `now`; every day is listed, zero when nobody asked anything."""
    now = now or timezone.now()
    totals = {
        row["day"]: (row["cost"], row["queries"])
        for row in _usage_rows(tenant=tenant, since=since, now=now, user=user)
        .filter(kind=LedgerEntry.Kind.QUERY)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day")
        .annotate(cost=_cost_sum(), queries=Count("id"))
        .order_by()
    }
    days: list[DayCost] = []
    day, last = since.astimezone(UTC).date(), now.astimezone(UTC).date()
    while day <= last:
        cost, queries = totals.get(day, (MONEY_ZERO, 0))
        days.append(DayCost(day=day, cost_usd=cost, query_count=queries))
        day += DAY
    return days


def usage_cost_by_provider(
    *, tenant: Tenant, since: datetime, user: User | None = None, now: datetime | None = None
) -> list[ProviderCallCost]:
    """The tenant's (or, with `user`, that member's) model and embedding calls and their cost
    per provider from `since` to `now`; most expensive first."""
    now = now or timezone.now()
    return [
        ProviderCallCost(
            provider=row["provider"] or "unknown", cost_usd=row["cost"], calls=row["calls"]
        )
        for row in _usage_rows(tenant=tenant, since=since, now=now, user=user)
        .exclude(kind=LedgerEntry.Kind.QUERY)
        .values("provider")
        .annotate(cost=_cost_sum(), calls=Count("id"))
        .order_by("-cost", "provider")
    ]


def usage_totals(
    *, tenant: Tenant, since: datetime, user: User | None = None, now: datetime | None = None
) -> UsageTotals:
    """The tenant's (or, with `user`, that member's) questions from `since` to `now`: summed
    cost, how many, and their tokens."""
    now = now or timezone.now()
    row = (
        _usage_rows(tenant=tenant, since=since, now=now, user=user)
        .filter(kind=LedgerEntry.Kind.QUERY)
        .aggregate(
            cost=_cost_sum(),
            queries=Count("id"),
            tokens=Coalesce(Sum(F("input_tokens") + F("output_tokens")), 0),
        )
    )
    return UsageTotals(cost_usd=row["cost"], query_count=row["queries"], total_tokens=row["tokens"])
