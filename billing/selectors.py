"""Reads for billing: budget status, one query's costs, the usage page's figures for one
workspace, and the cost reports (per user this month, per provider, the most expensive queries,
and the measured optimisation report).

Every report takes `tenant` first; None means every tenant (staff only, decided by the caller).
The usage-page reads take one tenant and never read another's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import (
    BooleanField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from accounts.errors import NotFound
from accounts.models import Membership, Tenant, User
from accounts.selectors import tenant_quota_get
from billing.contracts import (
    BudgetStatus,
    ExpensiveQueryRow,
    OptimisationReport,
    PriceQuote,
    ProviderCostRow,
    RoutingLine,
    UsageLine,
    UserCostRow,
)
from billing.models import (
    MONEY_MAX_DIGITS,
    MONEY_PLACES,
    BudgetPeriod,
    LedgerEntry,
    UsageModelBucket,
    UsageUserBucket,
)
from billing.pricing import chat_prices, line_cost, price_get
from billing.rollups import Plan, day_start, plan_window, short_answer_tokens
from billing.services import period_resets_at, period_start_for

ZERO = Decimal(0)
MONEY_ZERO = Decimal(0).quantize(Decimal(10) ** -MONEY_PLACES)
CENT = Decimal("0.01")
DAY = timedelta(days=1)


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


# --- The usage page: one workspace (or one member of it) over a window --------------------
#
# Read straight from the ledger: the window starts at any moment the page picks and the member
# filter has no rollup, so the daily buckets would not answer these.


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


# --- Reports -----------------------------------------------------------------------------
#
# Windows are whole UTC calendar days ending with today (the month: from its first day), cut at
# `now`. Closed days come from the daily rollups (billing.rollups), the open ones from the ledger.


def _window(*, since: datetime, now: datetime) -> Plan:
    return plan_window(since=since, now=now)


def _days_window(*, days: int, now: datetime) -> Plan:
    today = now.astimezone(UTC).date()
    return _window(since=day_start(today - timedelta(days=days - 1)), now=now)


def _scoped(tenant: Tenant | None) -> QuerySet[LedgerEntry]:
    rows = LedgerEntry.objects.all()
    return rows if tenant is None else rows.filter(tenant=tenant)


def _raw(tenant: Tenant | None, window: Plan) -> QuerySet[LedgerEntry]:
    return _scoped(tenant).filter(created_at__gte=window.hour_cut, created_at__lte=window.now)


def _rolled(model: Any, tenant: Tenant | None, window: Plan) -> QuerySet[Any]:
    if not window.rolled:
        return model.objects.none()
    rows = model.objects.filter(
        Q(hours=24, start__gte=window.since, start__lt=window.day_cut)
        | Q(hours=window.partial_hours, start=window.day_cut)
    )
    return rows if tenant is None else rows.filter(tenant=tenant)


def _slugs(ids: set[int]) -> dict[int, str]:
    return dict(Tenant.objects.filter(pk__in=ids).values_list("pk", "slug"))


def _emails(ids: set[int | None]) -> dict[int, str]:
    return dict(User.objects.filter(pk__in={i for i in ids if i}).values_list("pk", "email"))


def _accumulate(row: dict[str, Any], values: Mapping[str, Any]) -> None:
    """Add the numbers of `values` into `row` (the group-by keys, strings, are left out)."""
    for name, value in values.items():
        if value is None or isinstance(value, int | float | Decimal):
            row[name] = row.get(name, 0) + (value or 0)


def _add(into: dict[Any, dict[str, Any]], key: Any, values: Mapping[str, Any]) -> None:
    _accumulate(into.setdefault(key, {}), values)


def user_costs_month(*, tenant: Tenant | None, now: datetime | None = None) -> list[UserCostRow]:
    """Per member this calendar month (UTC): questions, tokens, cost, mean latency, cache hit
    rate; most expensive first."""
    now = now or timezone.now()
    start = period_start_for(now)
    window = _window(since=datetime(start.year, start.month, 1, tzinfo=UTC), now=now)
    totals: dict[tuple[int, int | None], dict[str, Any]] = {}
    for r in (
        _rolled(UsageUserBucket, tenant, window)
        .values("tenant_id", "user_id")
        .annotate(
            queries=Sum("queries"),
            tokens=Sum("tokens"),
            cost=Sum("cost_usd"),
            latency=Sum("latency_ms_sum"),
            hits=Sum("cache_hits"),
        )
        .order_by()
    ):
        _add(totals, (r["tenant_id"], r["user_id"]), r)
    for r in (
        _raw(tenant, window)
        .filter(kind=LedgerEntry.Kind.QUERY)
        .values("tenant_id", "user_id")
        .annotate(
            queries=Count("id"),
            tokens=Sum(F("input_tokens") + F("output_tokens")),
            cost=Sum("cost_usd"),
            latency=Sum("latency_ms"),
            hits=Count("id", filter=Q(cache_hit=True)),
        )
        .order_by()
    ):
        _add(totals, (r["tenant_id"], r["user_id"]), r)
    emails = _emails({user_id for _, user_id in totals})
    slugs = _slugs({tenant_id for tenant_id, _ in totals})
    rows = [
        UserCostRow(
            tenant=slugs.get(tenant_id, ""),
            user_id=user_id,
            email=emails.get(user_id, "") if user_id else "",
            query_count=int(t["queries"]),
            total_tokens=int(t["tokens"]),
            total_cost_usd=Decimal(t["cost"]),
            avg_latency_ms=t["latency"] / t["queries"] if t["queries"] else 0.0,
            cache_hit_rate=t["hits"] / t["queries"] if t["queries"] else 0.0,
        )
        for (tenant_id, user_id), t in totals.items()
    ]
    return sorted(rows, key=lambda r: (-r.total_cost_usd, r.tenant, r.email))


def provider_costs(
    *, tenant: Tenant | None, days: int = 7, now: datetime | None = None
) -> list[ProviderCostRow]:
    """Per provider over the last `days` calendar days: cost, tokens, calls, and questions it
    served (successful calls and cache hits; a hit is listed under the provider whose answer
    was reused). Model and embedding calls both count."""
    now = now or timezone.now()
    window = _days_window(days=days, now=now)
    usage = _usage_by_model(
        tenant, window, short_tokens=short_answer_tokens(), include_summaries=False
    )
    return _provider_rows(usage)


_MODEL_SUMS = ("calls", "served", "cost", "saved", "hits", "input", "cached", "written", "output")


def _usage_by_model(
    tenant: Tenant | None, window: Plan, *, short_tokens: int, include_summaries: bool
) -> dict[tuple[str, str, str, bool], dict[str, Any]]:
    """Calls per (kind, provider, model, short) over the window: closed days from the rollup,
    open ones from the ledger in one scan (summary rows too, when asked, under kind "query")."""
    usage: dict[tuple[str, str, str, bool], dict[str, Any]] = {}
    for r in (
        _rolled(UsageModelBucket, tenant, window)
        .values("kind", "provider", "model", "short")
        .annotate(
            calls=Sum("calls"),
            served=Sum("served"),
            cost=Sum("cost_usd"),
            input=Sum("input_tokens"),
            cached=Sum("cached_input_tokens"),
            written=Sum("cache_write_input_tokens"),
            output=Sum("output_tokens"),
        )
        .order_by()
    ):
        _add(usage, (r["kind"], r["provider"], r["model"], r["short"]), r)
    raw = _raw(tenant, window)
    if not include_summaries:
        raw = raw.exclude(kind=LedgerEntry.Kind.QUERY)
    short = Q(
        kind=LedgerEntry.Kind.MODEL,
        status=LedgerEntry.Status.OK,
        cache_hit=False,
        output_tokens__lte=short_tokens,
    )
    for r in (
        raw.annotate(short=ExpressionWrapper(short, output_field=BooleanField()))
        .values("kind", "provider", "model", "short")
        .annotate(
            calls=Count("id"),
            served=Count("id", filter=Q(status=LedgerEntry.Status.OK) | Q(cache_hit=True)),
            hits=Count("id", filter=Q(cache_hit=True)),
            cost=Sum("cost_usd"),
            saved=Sum("cost_saved_usd"),
            input=Sum("input_tokens"),
            cached=Sum("cached_input_tokens"),
            written=Sum("cache_write_input_tokens"),
            output=Sum("output_tokens"),
        )
        .order_by()
    ):
        _add(usage, (r["kind"], r["provider"], r["model"], bool(r["short"])), r)
    return usage


def _provider_rows(
    usage: dict[tuple[str, str, str, bool], dict[str, Any]],
) -> list[ProviderCostRow]:
    totals: dict[str, dict[str, Any]] = {}
    for (kind, provider, _model, _short), values in usage.items():
        if kind != LedgerEntry.Kind.QUERY:
            _add(totals, provider, values)
    rows = []
    for provider, t in totals.items():
        cost, served = Decimal(t.get("cost", 0)), int(t.get("served", 0))
        rows.append(
            ProviderCostRow(
                provider=provider,
                total_cost_usd=cost,
                total_tokens=int(t.get("input", 0)) + int(t.get("output", 0)),
                calls=int(t.get("calls", 0)),
                query_count=served,
                avg_cost_per_query_usd=cost / served if served else ZERO,
            )
        )
    return sorted(rows, key=lambda r: (-r.total_cost_usd, r.provider))


def expensive_queries(
    *, tenant: Tenant | None, hours: int = 24, limit: int = 20, now: datetime | None = None
) -> list[ExpensiveQueryRow]:
    """The `limit` most expensive questions of the last `hours` (a rolling window)."""
    now = now or timezone.now()
    rows = list(
        _scoped(tenant)
        .filter(
            kind=LedgerEntry.Kind.QUERY,
            created_at__gte=now - timedelta(hours=hours),
            created_at__lte=now,
        )
        .order_by("-cost_usd", "-created_at")
        .values(
            "query_id",
            "tenant_id",
            "user_id",
            "providers_tried",
            "input_tokens",
            "output_tokens",
            "cost_usd",
            "latency_ms",
            "status",
            "created_at",
        )[:limit]
    )
    emails = _emails({r["user_id"] for r in rows})
    slugs = _slugs({r["tenant_id"] for r in rows})
    return [
        ExpensiveQueryRow(
            query_id=r["query_id"],
            tenant=slugs.get(r["tenant_id"], ""),
            email=emails.get(r["user_id"], "") if r["user_id"] else "",
            providers=tuple(r["providers_tried"]),
            total_tokens=r["input_tokens"] + r["output_tokens"],
            cost_usd=r["cost_usd"],
            latency_ms=r["latency_ms"],
            status=r["status"],
            created_at=r["created_at"],
        )
        for r in rows
    ]


def routing_target_price(*, at: datetime | None = None) -> PriceQuote | None:
    """The model cheaper questions could go to: BILLING_ROUTING_TARGET ("provider/model"), else
    the cheapest paid chat model in the price table."""
    configured = str(settings.BILLING_ROUTING_TARGET or "")
    if "/" in configured:
        provider, model = configured.split("/", 1)
        return price_get(provider=provider, model=model, at=at)
    paid = [p for p in chat_prices(at=at) if not p.is_free and p.model != "*"]
    if not paid:
        return None
    return min(paid, key=lambda p: (p.input_per_mtok + p.output_per_mtok, p.provider, p.model))


def optimisation_report(
    *, tenant: Tenant | None, days: int = 7, now: datetime | None = None
) -> OptimisationReport:
    """Cache hit rate and savings, and what routing short answers to the cheapest model would
    have saved, re-pricing the tokens those answers really used (measured, not a fixed ratio),
    over the last `days` calendar days.

    A "short answer" is a successful, uncached model call whose output was at most
    BILLING_ROUTING_SHORT_ANSWER_TOKENS tokens: look-ups a small model handles as well.
    """
    now = now or timezone.now()
    window = _days_window(days=days, now=now)
    threshold = short_answer_tokens()
    usage = _usage_by_model(tenant, window, short_tokens=threshold, include_summaries=True)
    summary: dict[str, Any] = {}
    rolled = _rolled(UsageUserBucket, tenant, window).aggregate(
        calls=Sum("queries"),
        hits=Sum("cache_hits"),
        saved=Sum("cost_saved_usd"),
        cost=Sum("cost_usd"),
    )
    _accumulate(summary, rolled)
    short: dict[tuple[str, str], dict[str, Any]] = {}
    for (kind, provider, model, is_short), values in usage.items():
        if kind == LedgerEntry.Kind.QUERY:
            _accumulate(summary, {k: values.get(k) for k in ("calls", "hits", "saved", "cost")})
        elif kind == LedgerEntry.Kind.MODEL and is_short:
            _add(short, (provider, model), values)
    target = routing_target_price(at=now)
    lines: list[RoutingLine] = []
    for (provider, model), r in sorted(short.items()):
        if target is None or (provider, model) == (target.provider, target.model):
            continue
        if not r.get("cost"):
            continue  # free models (offline) gain nothing from routing
        target_cost = line_cost(
            line=UsageLine(
                kind="model",
                provider=target.provider,
                model=target.model,
                input_tokens=int(r.get("input", 0)),
                cached_input_tokens=int(r.get("cached", 0)),
                cache_write_input_tokens=int(r.get("written", 0)),
                output_tokens=int(r.get("output", 0)),
            ),
            price=target,
        )
        lines.append(
            RoutingLine(
                provider=provider,
                model=model,
                queries=int(r.get("calls", 0)),
                actual_cost_usd=Decimal(r["cost"]),
                target_cost_usd=target_cost,
            )
        )
    return OptimisationReport(
        days=days,
        total_cost_usd=Decimal(summary.get("cost", 0)),
        queries=int(summary.get("calls", 0)),
        cache_hits=int(summary.get("hits", 0)),
        cache_savings_usd=Decimal(summary.get("saved", 0)),
        routing_target=f"{target.provider}/{target.model}" if target else "",
        routing_short_answer_tokens=threshold,
        routing_lines=tuple(lines),
        costs_by_provider=tuple(_provider_rows(usage)),
    )
