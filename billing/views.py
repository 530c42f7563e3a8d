"""The usage page: budget meter, cost charts, top questions, rate limits, per-member costs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, F, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.models import Membership, Tenant, User
from accounts.selectors import tenant_quota_get
from accounts.views import page, workspace_required
from billing import selectors
from billing.contracts import BudgetStatus
from billing.models import LedgerEntry

PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30
TOP_QUERIES = 10
_COST_FIELD = LedgerEntry._meta.get_field("cost_usd")
MONEY_ZERO = Decimal(0).quantize(Decimal(10) ** -_COST_FIELD.decimal_places)


def _cost_sum() -> Coalesce:
    """The sum of cost_usd, zero (not NULL) over no rows, at the ledger's precision."""
    return Coalesce(
        Sum("cost_usd"),
        Value(MONEY_ZERO),
        output_field=DecimalField(
            max_digits=_COST_FIELD.max_digits,
            decimal_places=_COST_FIELD.decimal_places,
        ),
    )


@dataclass(frozen=True)
class BudgetMeter:
    """A budget as the meter shows it: normal, warning (from the warning ratio) or blocked."""

    status: BudgetStatus
    state: str
    percent: int

    @classmethod
    def of(cls, status: BudgetStatus) -> BudgetMeter:
        state = "blocked" if status.exhausted else "warning" if status.warning else "normal"
        percent = min(100, int(status.used_ratio * 100)) if status.limit_usd is not None else 0
        return cls(status=status, state=state, percent=percent)


@dataclass(frozen=True)
class CostSeries:
    labels: list[str]
    costs: list[float]  # for the chart only; tables show the Decimal values
    rows: list[tuple[str, Decimal, int]]


def _calls(*, tenant: Tenant, since: datetime, user: User | None) -> Any:
    rows = LedgerEntry.objects.filter(tenant=tenant, created_at__gte=since)
    return rows if user is None else rows.filter(user_id=user.pk)


def cost_by_day(*, tenant: Tenant, since: datetime, user: User | None = None) -> CostSeries:
    """Cost and questions per UTC day since `since` (every day present, zero when idle)."""
    totals = {
        row["day"]: (row["cost"], row["queries"])
        for row in _calls(tenant=tenant, since=since, user=user)
        .filter(kind=LedgerEntry.Kind.QUERY)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(cost=_cost_sum(), queries=Count("id"))
    }
    days: list[date] = []
    day = since.date()
    today = timezone.now().date()
    while day <= today:
        days.append(day)
        day += timedelta(days=1)
    rows = [(d.isoformat(), *totals.get(d, (MONEY_ZERO, 0))) for d in days]
    return CostSeries(
        labels=[label for label, _, _ in rows],
        costs=[float(cost) for _, cost, _ in rows],
        rows=rows,
    )


def cost_by_provider(*, tenant: Tenant, since: datetime, user: User | None = None) -> CostSeries:
    """Cost and calls per provider since `since` (model and embedding calls)."""
    rows = [
        (row["provider"] or "unknown", row["cost"], row["calls"])
        for row in _calls(tenant=tenant, since=since, user=user)
        .exclude(kind=LedgerEntry.Kind.QUERY)
        .values("provider")
        .annotate(cost=_cost_sum(), calls=Count("id"))
        .order_by("-cost", "provider")
    ]
    return CostSeries(
        labels=[label for label, _, _ in rows],
        costs=[float(cost) for _, cost, _ in rows],
        rows=rows,
    )


def _totals(*, tenant: Tenant, since: datetime, user: User | None) -> dict[str, Any]:
    return (
        _calls(tenant=tenant, since=since, user=user)
        .filter(kind=LedgerEntry.Kind.QUERY)
        .aggregate(
            cost=_cost_sum(),
            queries=Count("id"),
            tokens=Coalesce(Sum(F("input_tokens") + F("output_tokens")), 0),
        )
    )


@require_GET
@workspace_required
def usage_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The usage page; `?days=7|30|90` picks the period of the charts and the top questions."""
    tenant = membership.tenant
    manager = membership.is_manager or bool(request.user.is_staff)
    try:
        days = int(request.GET.get("days", DEFAULT_PERIOD))
    except ValueError:
        days = DEFAULT_PERIOD
    if days not in PERIODS:
        days = DEFAULT_PERIOD
    since = timezone.now() - timedelta(days=days - 1)
    since = since.replace(hour=0, minute=0, second=0, microsecond=0)
    only = None if manager else membership.user

    budget = BudgetMeter.of(selectors.budget_status_get(tenant=tenant))
    my_budget = (
        BudgetMeter.of(selectors.budget_status_get(tenant=tenant, user=membership.user))
        if membership.monthly_budget_usd_cap is not None
        else None
    )
    members = selectors.user_costs_month(tenant=tenant)
    top = selectors.expensive_queries(tenant=tenant, hours=days * 24, limit=200)
    if not manager:
        members = [row for row in members if row.user_id == membership.user_id]
        top = [row for row in top if row.email == membership.user.email]
    daily = cost_by_day(tenant=tenant, since=since, user=only)
    providers = cost_by_provider(tenant=tenant, since=since, user=only)
    context: dict[str, Any] = {
        "manager": manager,
        "days": days,
        "periods": PERIODS,
        "budget": budget,
        "my_budget": my_budget,
        "quota": tenant_quota_get(tenant=tenant),
        "tier_name": tenant.tier.name,
        "members": members,
        "top_queries": top[:TOP_QUERIES],
        "daily": daily,
        "providers": providers,
        "totals": _totals(tenant=tenant, since=since, user=only),
        "chart_data": {
            "daily": {"labels": daily.labels, "costs": daily.costs},
            "providers": {"labels": providers.labels, "costs": providers.costs},
        },
    }
    if manager:
        context["optimisation"] = selectors.optimisation_report(tenant=tenant, days=days)
    return page(request, "billing/usage.html", membership=membership, section="usage", **context)
