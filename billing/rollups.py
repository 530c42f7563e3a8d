"""Rollups of the ledger by day, so reports over millions of rows read thousands.

A stretch of time is rolled up once it is closed: over, plus ROLLUP_GRACE for the last in-flight
writes (ledger rows are stamped with the time they are written, so a closed stretch never
changes). Past days are one bucket each (hours=24); the day still open has one bucket for its
closed hours so far (midnight + N hours), replaced as hours close and dropped when the day is
rolled up. A report reads the rollups for the closed part of its window and the ledger itself
only for the last hour or so.

Building is lazy (the reports call plan_window) and idempotent, and safe to race: the bucket's
marker row is claimed first, so a second builder waits for it and then skips.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from billing.models import UsageBucket, UsageModelBucket, UsageUserBucket

logger = logging.getLogger(__name__)

ROLLUP_GRACE = timedelta(minutes=10)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)

_USER_SQL = """
INSERT INTO billing_usageuserbucket
    (start, hours, tenant_id, user_id, queries, tokens, cost_usd, cost_saved_usd, cache_hits,
     latency_ms_sum)
SELECT %(start)s, %(hours)s, tenant_id, user_id, count(*), sum(input_tokens + output_tokens),
       sum(cost_usd), sum(cost_saved_usd), count(*) FILTER (WHERE cache_hit), sum(latency_ms)
  FROM billing_ledgerentry
 WHERE kind = 'query' AND created_at >= %(start)s AND created_at < %(end)s
 GROUP BY tenant_id, user_id
"""

_MODEL_SQL = """
INSERT INTO billing_usagemodelbucket
    (start, hours, tenant_id, kind, provider, model, short, calls, served, cost_usd,
     input_tokens, cached_input_tokens, cache_write_input_tokens, output_tokens)
SELECT %(start)s, %(hours)s, tenant_id, kind, provider, model,
       (kind = 'model' AND status = 'ok' AND NOT cache_hit AND output_tokens <= %(short)s),
       count(*), count(*) FILTER (WHERE status = 'ok' OR cache_hit), sum(cost_usd),
       sum(input_tokens), sum(cached_input_tokens), sum(cache_write_input_tokens),
       sum(output_tokens)
  FROM billing_ledgerentry
 WHERE kind <> 'query' AND created_at >= %(start)s AND created_at < %(end)s
 GROUP BY 3, 4, 5, 6, 7
"""


def short_answer_tokens() -> int:
    return int(settings.BILLING_ROUTING_SHORT_ANSWER_TOKENS)


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def last_closed_day(*, now: datetime | None = None) -> date:
    """The latest UTC day that is over, grace included, by the wall clock."""
    now = (now or timezone.now()).astimezone(UTC)
    return (now - ROLLUP_GRACE).date() - DAY


def _closed(start: datetime, hours: int) -> bool:
    return start + timedelta(hours=hours) + ROLLUP_GRACE <= timezone.now()


def bucket_build(*, start: datetime, hours: int) -> bool:
    """Sum a closed day (hours=24) or the first `hours` closed hours of a day into the rollups;
    False when it was already built with the current short-answer setting, or by a racing
    builder. Raises ValueError for a stretch not yet closed or not starting at midnight."""
    if not 1 <= hours <= 24:
        raise ValueError("A bucket covers 1 to 24 hours from midnight.")
    start = start.astimezone(UTC)
    if start != day_start(start.date()):
        raise ValueError("A bucket starts at midnight UTC.")
    if not _closed(start, hours):
        raise ValueError(f"{start:%Y-%m-%d %H:%M} +{hours}h is not closed yet.")
    threshold = short_answer_tokens()
    end = start + timedelta(hours=hours)
    with transaction.atomic():
        marker = UsageBucket.objects.select_for_update().filter(start=start, hours=hours).first()
        if marker is not None and marker.short_answer_tokens == threshold:
            return False
        if marker is None:
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO billing_usagebucket (start, hours, short_answer_tokens, built_at) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (start, hours) DO NOTHING RETURNING id",
                    [start, hours, threshold, timezone.now()],
                )
                if cursor.fetchone() is None:
                    return False  # another builder claimed it and has committed
        else:
            UsageBucket.objects.filter(pk=marker.pk).update(
                short_answer_tokens=threshold, built_at=timezone.now()
            )
        # Older partial buckets of the day are superseded; the one just before stays, so a report
        # planned a moment ago with it still finds its rows.
        superseded = {"start": start, "hours__lt": hours if hours == 24 else hours - 1}
        UsageBucket.objects.filter(**superseded).delete()
        UsageUserBucket.objects.filter(**superseded).delete()
        UsageModelBucket.objects.filter(**superseded).delete()
        UsageUserBucket.objects.filter(hours=hours, start=start).delete()
        UsageModelBucket.objects.filter(hours=hours, start=start).delete()
        params: dict[str, Any] = {"start": start, "end": end, "hours": hours, "short": threshold}
        with connection.cursor() as cursor:
            cursor.execute(_USER_SQL, params)
            cursor.execute(_MODEL_SQL, params)
    return True


@dataclass(frozen=True)
class Plan:
    """How a report reads [since, now]: whole days from `since` to `day_cut` and the partial
    day from `day_cut` to `hour_cut` from the rollups, the ledger from `hour_cut` to `now`."""

    since: datetime
    day_cut: datetime
    hour_cut: datetime
    now: datetime

    @property
    def rolled(self) -> bool:
        return self.hour_cut > self.since

    @property
    def partial_hours(self) -> int:
        return int((self.hour_cut - self.day_cut) / HOUR)


def plan_window(*, since: datetime, now: datetime) -> Plan:
    """Split a window starting at a UTC midnight into rolled-up days and hours and a raw tail,
    building whatever closed buckets are missing. Returns the plan."""
    since, now = since.astimezone(UTC), now.astimezone(UTC)
    wanted: list[tuple[datetime, int]] = []
    cursor = since
    while cursor + DAY <= now and _closed(cursor, 24):
        wanted.append((cursor, 24))
        cursor += DAY
    day_cut = cursor
    while cursor + HOUR <= now and _closed(cursor, 1):
        cursor += HOUR
    plan = Plan(since=since, day_cut=day_cut, hour_cut=cursor, now=now)
    if plan.partial_hours:
        wanted.append((day_cut, plan.partial_hours))
    if not wanted:
        return plan
    threshold = short_answer_tokens()
    ready = set(
        UsageBucket.objects.filter(
            start__gte=since, start__lte=day_cut, short_answer_tokens=threshold
        ).values_list("start", "hours")
    )
    built = sum(
        1
        for start, hours in wanted
        if (start, hours) not in ready and bucket_build(start=start, hours=hours)
    )
    if built:
        # Fresh rollup rows have no statistics yet, and the reports' plans depend on them.
        with connection.cursor() as cursor_:
            cursor_.execute("ANALYZE billing_usageuserbucket, billing_usagemodelbucket")
        logger.info("Rolled up %d ledger bucket(s) between %s and %s", built, since, cursor)
    return plan


def rollups_build(*, days: int = 35) -> int:
    """Build the closed buckets of the last `days` days (the nightly task; reports would build
    them on first use anyway). Returns how many buckets exist for that stretch."""
    now = timezone.now()
    since = day_start(now.astimezone(UTC).date() - timedelta(days=days - 1))
    plan_window(since=since, now=now)
    return UsageBucket.objects.filter(start__gte=since).count()
