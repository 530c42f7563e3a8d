"""Cost reports at scale: p50/p95 of each report over 1,000,000 ledger rows for 50 tenants.

Run: python -m bench.billing_reports [--rows 1000000] [--runs 100] [--keep-server]. Starts a
private PostgreSQL (bench/billing_common.py), runs the real migrations, creates 50 tenants with
10 members each, and COPYs generated ledger rows covering the last 30 days in time order (as the
ledger is written): per question an optional embedding row, a model row (5% with a failed attempt
before it, 15% cache hits), and the summary row, priced with the seeded list prices. Then times
the four report selectors for one tenant (a random tenant per run) and for all tenants (staff).
Writes bench/results/billing_reports.json and prints a markdown table. Target: p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.billing_common import (
    dedicated_postgres,
    django_on,
    machine,
    psycopg_dsn,
    timed,
)

RESULT_PATH = Path(__file__).resolve().parent / "results" / "billing_reports.json"
TENANTS = 50
MEMBERS = 10
DAYS = 30
TARGET_P95_MS = 50.0
COLUMNS = (
    "created_at",
    "tenant_id",
    "user_id",
    "conversation_id",
    "query_id",
    "kind",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "cost_usd",
    "cost_saved_usd",
    "estimated_cost_usd",
    "latency_ms",
    "cache_hit",
    "status",
    "providers_tried",
)
MODELS = (
    ("anthropic", "claude-sonnet-5-5", 0.60),
    ("openai", "gpt-5.4-mini", 0.25),
    ("offline", "offline-extractive-1", 0.15),
)


def _world() -> tuple[list[int], dict[int, list[int]]]:
    from accounts.models import Membership, Tenant, User
    from accounts.services import tiers_ensure_defaults

    tiers = {t.slug: t for t in tiers_ensure_defaults()}
    tenants = Tenant.objects.bulk_create(
        [
            Tenant(slug=f"bench-{i:02d}", name=f"Bench {i:02d}", tier=tiers["pro"])
            for i in range(TENANTS)
        ]
    )
    users = User.objects.bulk_create(
        [
            User(email=f"m{j}@bench-{i:02d}.example", username=f"m{j}@bench-{i:02d}.example")
            for i in range(TENANTS)
            for j in range(MEMBERS)
        ]
    )
    members: dict[int, list[int]] = {}
    memberships = []
    for index, tenant in enumerate(tenants):
        ids = [u.pk for u in users[index * MEMBERS : (index + 1) * MEMBERS]]
        members[tenant.pk] = ids
        memberships += [Membership(tenant=tenant, user_id=uid, role="analyst") for uid in ids]
    Membership.objects.bulk_create(memberships)
    return [t.pk for t in tenants], members


def _cost(price: Any, inp: int, out: int) -> Decimal:
    from billing.pricing import tokens_cost

    return tokens_cost(price=price, input_tokens=inp, output_tokens=out)


def _generate(rows: int, tenants: list[int], members: dict[int, list[int]], now: datetime) -> Any:
    """Yield COPY text lines in time order until `rows` lines were produced."""
    from billing.pricing import price_get

    rng = random.Random(7)
    prices = {(p, m): price_get(provider=p, model=m) for p, m, _ in MODELS}
    weights = [w for _, _, w in MODELS]
    queries = int(rows / 2.55)  # rows per question on average, as generated below
    start = now - timedelta(days=DAYS)
    step = (now - start) / queries
    produced = 0
    at = start

    def line(values: list[Any]) -> str:
        return "\t".join("\\N" if v is None else str(v) for v in values) + "\n"

    while produced < rows:
        at = min(now, at + step)
        tenant = rng.choice(tenants)
        user = rng.choice(members[tenant])
        query = uuid.UUID(int=rng.getrandbits(128), version=4)
        conversation = rng.randint(1, 10**6)
        provider, model, _ = rng.choices(MODELS, weights)[0]
        inp, out = rng.randint(1500, 9000), rng.randint(40, 900)
        hit = rng.random() < 0.15
        lines = []
        tried = []
        if rng.random() < 0.5:
            lines.append(
                [
                    at,
                    tenant,
                    user,
                    conversation,
                    query,
                    "embedding",
                    "local",
                    "all-MiniLM-L6-v2",
                    12,
                    0,
                    0,
                    0,
                    0,
                    0,
                    None,
                    15,
                    "f",
                    "ok",
                    "{}",
                ]
            )
        if not hit and provider != "offline" and rng.random() < 0.05:
            tried.append("anthropic")
            lines.append(
                [
                    at,
                    tenant,
                    user,
                    conversation,
                    query,
                    "model",
                    "anthropic",
                    "claude-sonnet-5-5",
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    None,
                    900,
                    "f",
                    "error",
                    "{}",
                ]
            )
        if hit:
            saved = _cost(prices[(provider, model)], inp, out)
            lines.append(
                [
                    at,
                    tenant,
                    user,
                    conversation,
                    query,
                    "model",
                    provider,
                    model,
                    0,
                    0,
                    0,
                    0,
                    0,
                    saved,
                    None,
                    3,
                    "t",
                    "ok",
                    "{}",
                ]
            )
            total, tokens_in, tokens_out, cost_saved = Decimal(0), 0, 0, saved
        else:
            cost = _cost(prices[(provider, model)], inp, out)
            lines.append(
                [
                    at,
                    tenant,
                    user,
                    conversation,
                    query,
                    "model",
                    provider,
                    model,
                    inp,
                    out,
                    0,
                    0,
                    cost,
                    0,
                    None,
                    rng.randint(800, 9000),
                    "f",
                    "ok",
                    "{}",
                ]
            )
            total, tokens_in, tokens_out, cost_saved = cost, inp, out, Decimal(0)
        tried.append("cache" if hit else provider)
        lines.append(
            [
                at,
                tenant,
                user,
                conversation,
                query,
                "query",
                provider,
                model,
                tokens_in,
                tokens_out,
                0,
                0,
                total,
                cost_saved,
                total,
                rng.randint(5, 9500),
                "t" if hit else "f",
                "ok",
                "{" + ",".join(tried) + "}",
            ]
        )
        for values in lines:
            if produced >= rows:
                break
            produced += 1
            yield line(values)


def _load(
    dsn: str, rows: int, tenants: list[int], members: dict[int, list[int]], now: datetime
) -> float:
    import psycopg

    started = time.perf_counter()
    sql = f"COPY billing_ledgerentry ({', '.join(COLUMNS)}) FROM STDIN"
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        with cursor.copy(sql) as copy:
            buffer = io.StringIO()
            for index, text in enumerate(_generate(rows, tenants, members, now)):
                buffer.write(text)
                if index % 20_000 == 19_999:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) billing_ledgerentry")
    return time.perf_counter() - started


def _plans(tenant_id: int, now: datetime) -> dict[str, str]:
    """EXPLAIN of what the reports run: rollup reads, the raw tail, the rolling 24 hours."""
    from django.db import connection

    from billing.models import LedgerEntry, UsageUserBucket

    month = datetime(now.year, now.month, 1, tzinfo=UTC)
    queries = {
        "rollup_month_all_tenants": UsageUserBucket.objects.filter(
            hours=24, start__gte=month
        ).values("tenant_id", "user_id"),
        "raw_tail_one_tenant": LedgerEntry.objects.filter(
            tenant_id=tenant_id, created_at__gte=now - timedelta(hours=1)
        ).values("provider"),
        "expensive_24h_one_tenant": LedgerEntry.objects.filter(
            tenant_id=tenant_id, kind="query", created_at__gte=now - timedelta(hours=24)
        ).order_by("-cost_usd")[:20],
    }
    plans = {}
    for name, queryset in queries.items():
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}", params)
            plans[name] = " | ".join(row[0].strip() for row in cursor.fetchall()[:4])
    return plans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()

    with dedicated_postgres() as socket_dir:
        django_on(socket_dir)
        from django.utils import timezone

        from accounts.models import Tenant
        from billing import selectors

        now = timezone.now()
        tenants, members = _world()
        load_s = _load(psycopg_dsn(socket_dir), args.rows, tenants, members, now)
        from billing.rollups import rollups_build

        started = time.perf_counter()
        built = rollups_build(days=DAYS + 1)
        rollup_s = time.perf_counter() - started
        objects = {t.pk: t for t in Tenant.objects.select_related("tier")}
        rng = random.Random(11)

        def one_tenant() -> Tenant:
            return objects[rng.choice(tenants)]

        reports = {
            "users_this_month": lambda t: selectors.user_costs_month(tenant=t, now=now),
            "providers_7_days": lambda t: selectors.provider_costs(tenant=t, days=7, now=now),
            "expensive_24_hours": lambda t: selectors.expensive_queries(tenant=t, now=now),
            "optimisation_7_days": lambda t: selectors.optimisation_report(
                tenant=t, days=7, now=now
            ),
        }
        results: dict[str, Any] = {}
        for name, report in reports.items():
            tenant_timing = timed(lambda r=report: r(one_tenant()), runs=args.runs)
            all_timing = timed(lambda r=report: r(None), runs=max(10, args.runs // 4))
            results[name] = {
                "tenant": tenant_timing.as_dict(),
                "all_tenants": all_timing.as_dict(),
            }
        from billing.models import LedgerEntry

        counts = {
            "rows": LedgerEntry.objects.count(),
            "queries": LedgerEntry.objects.filter(kind="query").count(),
            "rows_in_this_month": LedgerEntry.objects.filter(
                created_at__gte=datetime(now.year, now.month, 1, tzinfo=UTC)
            ).count(),
        }
        plans = _plans(tenants[0], now)
        from django.db import connections

        connections.close_all()

    worst = max(max(r["tenant"]["p95_ms"], r["all_tenants"]["p95_ms"]) for r in results.values())
    payload = {
        "benchmark": "billing_reports",
        "date": datetime.now(UTC).date().isoformat(),
        "machine": machine(),
        "tenants": TENANTS,
        "members_per_tenant": MEMBERS,
        "days_of_data": DAYS,
        "load_seconds": round(load_s, 1),
        "rollup_buckets_built": built,
        "rollup_build_seconds": round(rollup_s, 2),
        "counts": counts,
        "target_p95_ms": TARGET_P95_MS,
        "worst_p95_ms": worst,
        "meets_target": worst <= TARGET_P95_MS,
        "reports": results,
        "plans": plans,
    }
    RESULT_PATH.write_text(json.dumps(payload, indent=2) + "\n")
    print(
        f"{counts['rows']:,} ledger rows ({counts['queries']:,} questions), "
        f"loaded in {load_s:.0f} s"
    )
    print("| report | one tenant p50 / p95 (ms) | all tenants p50 / p95 (ms) |")
    print("| --- | --- | --- |")
    for name, r in results.items():
        print(
            f"| {name} | {r['tenant']['p50_ms']} / {r['tenant']['p95_ms']} "
            f"| {r['all_tenants']['p50_ms']} / {r['all_tenants']['p95_ms']} |"
        )
    print(f"worst p95 {worst} ms (target {TARGET_P95_MS} ms)")


if __name__ == "__main__":
    main()
