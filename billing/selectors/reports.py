"""The cost reports across workspaces (tenant None: every tenant, staff only, decided by the
caller): per member this month, per provider, the most expensive questions, and the per-model
sums the optimisation report shares.

Windows are whole UTC calendar days ending with today (the month: from its first day), cut at
`now`. Closed days come from the daily rollups (billing.rollups), the open ones from the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import BooleanField, Count, ExpressionWrapper, F, Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import Tenant, User
from billing.contracts import ExpensiveQueryRow, ProviderCostRow, UserCostRow
from billing.models import LedgerEntry, UsageModelBucket, UsageUserBucket
from billing.rollups import Plan, day_start, plan_window, short_answer_tokens
from billing.services import period_start_for

ZERO = Decimal(0)


def _window(*, since: datetime, now: datetime) -> Plan:
    return plan_window(since=since, now=now)


def days_window(*, days: int, now: datetime) -> Plan:
    """The last `days` whole UTC calendar days, today cut at `now`."""
    today = now.astimezone(UTC).date()
    return _window(since=day_start(today - timedelta(days=days - 1)), now=now)


def _scoped(tenant: Tenant | None) -> QuerySet[LedgerEntry]:
    rows = LedgerEntry.objects.all()
    return rows if tenant is None else rows.filter(tenant=tenant)


def _raw(tenant: Tenant | None, window: Plan) -> QuerySet[LedgerEntry]:
    return _scoped(tenant).filter(created_at__gte=window.hour_cut, created_at__lte=window.now)


def rolled_buckets(model: Any, tenant: Tenant | None, window: Plan) -> QuerySet[Any]:
    """The rollup rows of `model` covering the window's closed days."""
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


def accumulate(row: dict[str, Any], values: Mapping[str, Any]) -> None:
    """Add the numbers of `values` into `row` (the group-by keys, strings, are left out)."""
    for name, value in values.items():
        if value is None or isinstance(value, int | float | Decimal):
            row[name] = row.get(name, 0) + (value or 0)


def add_into(into: dict[Any, dict[str, Any]], key: Any, values: Mapping[str, Any]) -> None:
    """accumulate `values` into the row of `into` under `key`, started empty."""
    accumulate(into.setdefault(key, {}), values)


def user_costs_month(*, tenant: Tenant | None, now: datetime | None = None) -> list[UserCostRow]:
    """Per member this calendar month (UTC): questions, tokens, cost, mean latency, cache hit
    rate; most expensive first."""
    now = now or timezone.now()
    start = period_start_for(now)
    window = _window(since=datetime(start.year, start.month, 1, tzinfo=UTC), now=now)
    totals: dict[tuple[int, int | None], dict[str, Any]] = {}
    for r in (
        rolled_buckets(UsageUserBucket, tenant, window)
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
        add_into(totals, (r["tenant_id"], r["user_id"]), r)
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
        add_into(totals, (r["tenant_id"], r["user_id"]), r)
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
    window = days_window(days=days, now=now)
    usage = usage_by_model(
        tenant, window, short_tokens=short_answer_tokens(), include_summaries=False
    )
    return provider_rows(usage)


# Sums per (kind, provider, model, short answer) of the ledger's calls.
ModelUsage = dict[tuple[str, str, str, bool], dict[str, Any]]


def usage_by_model(
    tenant: Tenant | None, window: Plan, *, short_tokens: int, include_summaries: bool
) -> ModelUsage:
    """Calls per (kind, provider, model, short) over the window: closed days from the rollup,
    open ones from the ledger in one scan (summary rows too, when asked, under kind "query")."""
    usage: ModelUsage = {}
    for r in (
        rolled_buckets(UsageModelBucket, tenant, window)
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
        add_into(usage, (r["kind"], r["provider"], r["model"], r["short"]), r)
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
        add_into(usage, (r["kind"], r["provider"], r["model"], bool(r["short"])), r)
    return usage


def provider_rows(usage: ModelUsage) -> list[ProviderCostRow]:
    """Per provider, most expensive first, from the per-model sums (summary rows left out)."""
    totals: dict[str, dict[str, Any]] = {}
    for (kind, provider, _model, _short), values in usage.items():
        if kind != LedgerEntry.Kind.QUERY:
            add_into(totals, provider, values)
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
