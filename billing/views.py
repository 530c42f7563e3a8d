"""The usage page: budget meter, cost charts, top questions, rate limits, per-member costs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.models import Membership
from accounts.selectors import tenant_quota_get
from accounts.views import page, workspace_required
from billing import selectors
from billing.contracts import BudgetStatus

PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30
TOP_QUERIES = 10


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
    """A chart's labels and values, and the same figures as (label, cost, count) table rows."""

    labels: list[str]
    costs: list[float]  # for the chart only; tables show the Decimal values
    rows: list[tuple[str, Decimal, int]]

    @classmethod
    def of(cls, rows: list[tuple[str, Decimal, int]]) -> CostSeries:
        return cls(
            labels=[label for label, _, _ in rows],
            costs=[float(cost) for _, cost, _ in rows],
            rows=rows,
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
    now = timezone.now()
    since = now - timedelta(days=days - 1)
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
    daily = CostSeries.of(
        [
            (d.day.isoformat(), d.cost_usd, d.query_count)
            for d in selectors.usage_cost_by_day(tenant=tenant, since=since, user=only, now=now)
        ]
    )
    providers = CostSeries.of(
        [
            (p.provider, p.cost_usd, p.calls)
            for p in selectors.usage_cost_by_provider(
                tenant=tenant, since=since, user=only, now=now
            )
        ]
    )
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
        "totals": selectors.usage_totals(tenant=tenant, since=since, user=only, now=now),
        "chart_data": {
            "daily": {"labels": daily.labels, "costs": daily.costs},
            "providers": {"labels": providers.labels, "costs": providers.costs},
        },
    }
    if manager:
        context["optimisation"] = selectors.optimisation_report(tenant=tenant, days=days)
    return page(request, "billing/usage.html", membership=membership, section="usage", **context)
