"""Budget reservations under load: 100 concurrent workers on one tenant's budget.

Run: python -m bench.billing_reservations [--workers 100] [--seconds 20]. Starts a private
PostgreSQL with max_connections 250 (bench/billing_common.py), runs the real migrations and
creates one tenant with 100 members. Each worker is a thread with its own database connection
running the real services, the way the pipeline does for every question:
budget_reserve (worst case $0.0100), then one transaction with ledger_line_record (actual cost,
random, at most the hold) and query_summary_record, then reservation_settle. (The pipeline writes
those two ledger rows in separate commits; one commit here keeps the WAL flushes, which are the
same whatever the budget does, from swamping what this measures.)

The workers are spread over --processes processes (default 4), as several application servers
would be, so Python's GIL does not cap the database. Phase 1 (throughput): a budget far above
what the run can spend; reservations per second and the latency of budget_reserve under
contention. Phase 2 (no overspend): a fresh tenant with a $5.00
budget, hammered until every worker has been refused 20 times in a row; the spend must end at or
under the limit (overspend exactly 0), the ledger must equal the settled spend, and no hold may
be left. Writes bench/results/billing_reservations.json.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.billing_common import dedicated_postgres, django_on, machine, percentile

RESULT_PATH = Path(__file__).resolve().parent / "results" / "billing_reservations.json"
HOLD = Decimal("0.0100")
TARGET_PER_SECOND = 1000.0


def _tenant(slug: str, budget: Decimal, members: int) -> tuple[Any, list[Any]]:
    from accounts.models import Membership, Tenant, User
    from accounts.services import tiers_ensure_defaults

    tiers = {t.slug: t for t in tiers_ensure_defaults()}
    tenant = Tenant.objects.create(
        slug=slug,
        name=slug,
        tier=tiers["enterprise"],
        monthly_budget_usd_override=budget,
        monthly_token_allowance_override=10**12,
    )
    users = User.objects.bulk_create(
        [
            User(email=f"w{i}@{slug}.example", username=f"w{i}@{slug}.example")
            for i in range(members)
        ]
    )
    Membership.objects.bulk_create(
        [Membership(tenant=tenant, user=u, role="analyst") for u in users]
    )
    return tenant, users


def _cycle(tenant: Any, user: Any, quota: Any, rng: random.Random, timings: list[float]) -> bool:
    """One question's budget life cycle; False when the hold was refused."""
    from django.db import transaction

    from accounts.errors import BudgetExhausted
    from billing.contracts import UsageLine
    from billing.services import (
        budget_reserve,
        ledger_line_record,
        query_summary_record,
        reservation_settle,
    )

    started = time.perf_counter()
    try:
        reservation = budget_reserve(
            tenant=tenant,
            user=user,
            query_id=uuid.uuid4(),
            amount_usd=HOLD,
            tokens=2_000,
            quota=quota,
        )
    except BudgetExhausted:
        timings.append((time.perf_counter() - started) * 1000)
        return False
    timings.append((time.perf_counter() - started) * 1000)
    # The answer's ledger rows: the model call (Sonnet output at $15/MTok, 60..666 tokens is
    # $0.0009..$0.00999, always within the hold) and the question's summary, committed together.
    with transaction.atomic():
        ledger_line_record(
            tenant=tenant,
            user=user,
            conversation_id=None,
            query_id=reservation.query_id,
            line=UsageLine(
                kind="model",
                provider="anthropic",
                model="claude-sonnet-5-5",
                output_tokens=rng.randint(60, 666),
            ),
        )
        totals = query_summary_record(
            tenant=tenant,
            user=user,
            conversation_id=None,
            query_id=reservation.query_id,
            status="ok",
            latency_ms=1,
            providers_tried=["anthropic"],
        )
    reservation_settle(reservation=reservation, tenant=tenant, totals=totals)
    return True


def _process(
    conn: Any,
    barrier: Any,
    stop: Any,
    *,
    tenant_id: int,
    user_ids: list[int],
    threads: int,
    first_index: int,
    refusals_to_stop: int,
) -> None:
    """One worker process: `threads` workers, each with its own database connection."""
    from django.db import connection

    from accounts.models import Tenant, User
    from accounts.selectors import tenant_quota_get

    tenant = Tenant.objects.select_related("tier").get(pk=tenant_id)
    users = {u.pk: u for u in User.objects.filter(pk__in=user_ids)}
    quota = tenant_quota_get(tenant=tenant)
    connection.close()
    lock = threading.Lock()
    counts = {"settled": 0, "refused": 0}
    timings: list[float] = []
    ready = threading.Barrier(threads + 1)

    def worker(index: int) -> None:
        rng = random.Random(index)
        mine: list[float] = []
        settled = refused = streak = 0
        user = users[user_ids[index % len(user_ids)]]
        try:
            ready.wait()
            while not stop.is_set():
                if _cycle(tenant, user, quota, rng, mine):
                    settled += 1
                    streak = 0
                else:
                    refused += 1
                    streak += 1
                    if refusals_to_stop and streak >= refusals_to_stop:
                        break
        finally:
            connection.close()
            with lock:
                counts["settled"] += settled
                counts["refused"] += refused
                timings.extend(mine)

    pool = [threading.Thread(target=worker, args=(first_index + i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()  # every process is ready: start together
    ready.wait()
    for thread in pool:
        thread.join()
    conn.send((counts, timings))
    conn.close()


def _run(
    tenant: Any,
    users: list[Any],
    *,
    workers: int,
    processes: int,
    seconds: float | None,
    refusals_to_stop: int,
) -> dict[str, Any]:
    """Run `workers` workers spread over `processes` processes (like several app servers)."""
    import multiprocessing

    from django.db import connections

    connections.close_all()  # never share a connection with a forked child
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(processes + 1)
    stop = context.Event()
    share = [workers // processes + (1 if i < workers % processes else 0) for i in range(processes)]
    children = []
    first = 0
    for count in share:
        parent_end, child_end = context.Pipe(duplex=False)
        child = context.Process(
            target=_process,
            args=(child_end, barrier, stop),
            kwargs={
                "tenant_id": tenant.pk,
                "user_ids": [u.pk for u in users],
                "threads": count,
                "first_index": first,
                "refusals_to_stop": refusals_to_stop,
            },
        )
        child.start()
        children.append((child, parent_end))
        first += count
    barrier.wait()
    began = time.perf_counter()
    if seconds is not None:
        time.sleep(seconds)
        stop.set()
    counts = {"settled": 0, "refused": 0}
    timings: list[float] = []
    for child, parent_end in children:
        child_counts, child_timings = parent_end.recv()
        child.join()
        counts["settled"] += child_counts["settled"]
        counts["refused"] += child_counts["refused"]
        timings.extend(child_timings)
    elapsed = time.perf_counter() - began
    attempts = counts["settled"] + counts["refused"]
    return {
        "workers": workers,
        "processes": processes,
        "seconds": round(elapsed, 2),
        "reservations": counts["settled"],
        "refused": counts["refused"],
        "reservations_per_second": round(counts["settled"] / elapsed, 1),
        "reserve_calls_per_second": round(attempts / elapsed, 1),
        "reserve_p50_ms": round(percentile(timings, 0.5), 2),
        "reserve_p95_ms": round(percentile(timings, 0.95), 2),
        "reserve_p99_ms": round(percentile(timings, 0.99), 2),
    }


def _audit(tenant: Any) -> dict[str, Any]:
    from django.db.models import Sum

    from billing.models import BudgetPeriod, LedgerEntry, Reservation

    period = BudgetPeriod.objects.get(tenant=tenant, user__isnull=True)
    ledger = LedgerEntry.objects.filter(tenant=tenant).exclude(kind="query").aggregate(
        total=Sum("cost_usd")
    )["total"] or Decimal(0)
    members = BudgetPeriod.objects.filter(tenant=tenant, user__isnull=False).aggregate(
        total=Sum("spent_usd")
    )["total"] or Decimal(0)
    limit = period.limit_usd or Decimal(0)
    return {
        "limit_usd": str(limit),
        "spent_usd": str(period.spent_usd),
        "reserved_usd_left": str(period.reserved_usd),
        "ledger_usd": str(ledger),
        "members_spent_usd": str(members),
        "overspend_usd": str(max(Decimal(0), period.spent_usd - limit)),
        "used_of_limit": float(period.spent_usd / limit) if limit else None,
        "ledger_equals_settled": ledger == period.spent_usd == members,
        "active_reservations_left": Reservation.objects.filter(
            tenant=tenant, status="active"
        ).count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--processes", type=int, default=4)
    args = parser.parse_args()

    with dedicated_postgres(max_connections=args.workers + 50) as socket_dir:
        django_on(socket_dir)
        from django.db import connections

        big, big_users = _tenant("throughput", Decimal("1000000"), args.workers)
        throughput = _run(
            big,
            big_users,
            workers=args.workers,
            processes=args.processes,
            seconds=args.seconds,
            refusals_to_stop=0,
        )
        throughput_audit = _audit(big)
        small, small_users = _tenant("overspend", Decimal("5.00"), args.workers)
        overspend = _run(
            small,
            small_users,
            workers=args.workers,
            processes=args.processes,
            seconds=None,
            refusals_to_stop=20,
        )
        overspend_audit = _audit(small)
        connections.close_all()

    payload = {
        "benchmark": "billing_reservations",
        "date": datetime.now(UTC).date().isoformat(),
        "machine": machine(),
        "hold_usd": str(HOLD),
        "target_reservations_per_second": TARGET_PER_SECOND,
        "throughput": {**throughput, **throughput_audit},
        "overspend": {**overspend, **overspend_audit},
        "meets_target": throughput["reservations_per_second"] >= TARGET_PER_SECOND
        and overspend_audit["overspend_usd"] == "0"
        and overspend_audit["ledger_equals_settled"],
    }
    RESULT_PATH.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
