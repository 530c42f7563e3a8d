"""The beat schedule names every scheduled job; each job does its work, a repeat changes nothing,
and two copies started at once never both run (the advisory lock), on real Postgres and Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from celery import current_app
from celery.schedules import crontab
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connections
from django.utils import timezone

from accounts.selectors import tenant_quota_get
from agents.models import Conversation
from agents.tasks import conversations_archive_task
from billing.models import BudgetPeriod, Reservation, UsageBucket
from billing.ratelimit import stream_key, stream_slot_acquire, stream_slots_held
from billing.redis_store import redis_client
from billing.services import budget_reserve
from billing.tasks import ledger_rollups_task, reservations_expire_task, stream_slots_expire_task
from billing.tests.conftest import model_line, record_query
from billing.tests.test_budgets import set_budget
from monitoring.jobs import JOBS, job_lock
from monitoring.models import TraceSpan
from monitoring.tasks import database_backup_task, trace_spans_prune_task
from retrieval.models import Document
from retrieval.services import document_register
from retrieval.tasks import documents_stuck_sweep_task

# --- The schedule ----------------------------------------------------------------------------


def test_the_beat_schedule_names_every_scheduled_job_and_nothing_else():
    current_app.loader.import_default_modules()
    assert set(JOBS) == {
        "database-backup",
        "conversation-archive",
        "trace-prune",
        "ledger-rollups",
        "budget-holds-expire",
        "stream-slots-expire",
        "ingest-stuck-sweep",
    }
    assert set(settings.CELERY_BEAT_SCHEDULE) == set(JOBS)
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] == JOBS[name], name
        assert entry["task"] in current_app.tasks, name
        assert isinstance(entry["schedule"], crontab), name
        assert 0 < entry["options"]["expires"] <= 3600, name


def test_celery_reads_the_schedule_from_the_settings():
    assert current_app.conf.beat_schedule == settings.CELERY_BEAT_SCHEDULE


def test_the_nightly_jobs_back_up_before_they_archive_or_prune():
    hours = {
        name: min(settings.CELERY_BEAT_SCHEDULE[name]["schedule"].hour)
        for name in ("database-backup", "conversation-archive", "trace-prune")
    }
    assert hours["database-backup"] < hours["conversation-archive"] <= hours["trace-prune"]


def test_a_job_can_be_switched_off_by_name_and_an_unknown_name_is_refused():
    check = (
        "import django; django.setup(); from django.conf import settings; "
        "print(sorted(settings.CELERY_BEAT_SCHEDULE))"
    )
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.test", "PATH": "/usr/bin:/bin"}
    env |= {k: v for k, v in os.environ.items() if k in {"REDIS_URL", "HOME", "FINRAG_DATA_DIR"}}
    off = subprocess.run(
        [sys.executable, "-c", check],
        env={**env, "SCHEDULED_JOBS_OFF": "database-backup,conversation-archive"},
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
    )
    assert "database-backup" not in off.stdout
    assert "trace-prune" in off.stdout
    unknown = subprocess.run(
        [sys.executable, "-c", check],
        env={**env, "SCHEDULED_JOBS_OFF": "nightly-backup"},
        capture_output=True,
        text=True,
        check=False,
        cwd=settings.BASE_DIR,
    )
    assert unknown.returncode != 0
    assert "unknown jobs" in unknown.stderr


# --- Helpers -----------------------------------------------------------------------------------


def run_in_thread(job: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run a job on its own thread, hence its own database connection, as a worker would."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome.update(job())
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=120)
    return outcome


def run_twice_at_once(job: Callable[[], dict[str, Any]]) -> list[dict[str, Any]]:
    """Start two copies of a job at the same moment on two connections; returns both outcomes."""
    barrier = threading.Barrier(2)
    outcomes: list[dict[str, Any]] = []
    lock = threading.Lock()

    def target() -> None:
        try:
            barrier.wait(timeout=30)
            result = job()
            with lock:
                outcomes.append(result)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == 2
    return outcomes


TASKS_BY_JOB = {
    "database-backup": database_backup_task,
    "conversation-archive": conversations_archive_task,
    "trace-prune": trace_spans_prune_task,
    "ledger-rollups": ledger_rollups_task,
    "budget-holds-expire": reservations_expire_task,
    "stream-slots-expire": stream_slots_expire_task,
    "ingest-stuck-sweep": documents_stuck_sweep_task,
}


@pytest.fixture
def backup_dir(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR


@pytest.fixture
def own_redis_prefix(settings):
    """A key prefix of this test's own, so counts of swept keys are exactly ours."""
    settings.BILLING_REDIS_PREFIX = f"finrag-test-jobs:{uuid.uuid4().hex[:8]}"
    yield settings.BILLING_REDIS_PREFIX
    client = redis_client()
    for key in client.scan_iter(match=f"{settings.BILLING_REDIS_PREFIX}:*"):
        client.delete(key)


# --- The lock ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", sorted(TASKS_BY_JOB))
def test_a_job_whose_lock_is_held_elsewhere_is_skipped_and_does_nothing(
    name, backup_dir, own_redis_prefix
):
    old = TraceSpan.objects.create(
        trace_id=uuid.uuid4().hex,
        span_id=uuid.uuid4().hex[:16],
        name="rag.query",
        start_time=timezone.now() - timedelta(days=400),
        end_time=timezone.now() - timedelta(days=400),
        duration_ms=1.0,
    )
    with job_lock(name) as held:
        assert held
        outcome = run_in_thread(TASKS_BY_JOB[name])
    assert outcome == {"job": name, "ran": False, "result": None, "seconds": 0.0}
    assert not backup_dir.exists()
    # (looked up by id: spans of earlier tests' traces may still be landing from their exporter)
    assert TraceSpan.objects.filter(pk=old.pk).exists()
    # Released: the next run goes ahead.
    assert run_in_thread(TASKS_BY_JOB[name])["ran"] is True


@pytest.mark.django_db(transaction=True)
def test_each_job_has_a_lock_of_its_own():
    with job_lock("trace-prune") as held:
        assert held
        assert run_in_thread(ledger_rollups_task)["ran"] is True


# --- Each job ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_backup_job_dumps_the_database_and_keeps_only_the_newest_backups(backup_dir, settings):
    settings.BACKUP_KEEP = 2
    name = settings.DATABASES["default"]["NAME"]
    backup_dir.mkdir(parents=True)
    for stamp in ("20250101T020000Z", "20250102T020000Z", "20250103T020000Z"):
        (backup_dir / f"{name}-{stamp}.dump").write_bytes(b"old")
    unrelated = [backup_dir / "conversations-20250101T030000Z.jsonl.gz", backup_dir / "mine.dump"]
    for path in unrelated:
        path.write_bytes(b"keep me")

    outcome = database_backup_task()

    assert outcome["ran"] is True
    written = backup_dir / outcome["result"].rsplit("/", 1)[-1]
    assert written.stat().st_size > 1000
    remaining = sorted(p.name for p in backup_dir.glob(f"{name}-*.dump"))
    assert remaining == [f"{name}-20250103T020000Z.dump", written.name]
    assert all(path.exists() for path in unrelated)


@pytest.mark.django_db(transaction=True)
def test_two_backups_started_at_once_make_one_archive(backup_dir, settings):
    name = settings.DATABASES["default"]["NAME"]
    outcomes = run_twice_at_once(database_backup_task)
    assert sorted(o["ran"] for o in outcomes) == [False, True]
    assert len(list(backup_dir.glob(f"{name}-*.dump"))) == 1
    assert not list(backup_dir.glob("*.partial"))


def test_rotation_never_deletes_the_last_backup(tmp_path):
    from monitoring.backups import backups_rotate

    with pytest.raises(ValueError, match="at least one"):
        backups_rotate(directory=tmp_path, database="finrag", keep=0)


def old_span(*, days: int) -> TraceSpan:
    started = timezone.now() - timedelta(days=days)
    return TraceSpan.objects.create(
        trace_id=uuid.uuid4().hex,
        span_id=uuid.uuid4().hex[:16],
        name="rag.query",
        start_time=started,
        end_time=started + timedelta(seconds=1),
        duration_ms=1000.0,
    )


@pytest.mark.django_db(transaction=True)
def test_the_prune_job_deletes_spans_past_retention_once(settings):
    settings.TRACE_RETENTION_DAYS = 30
    for _ in range(3):
        old_span(days=31)
    recent = old_span(days=29)

    outcomes = run_twice_at_once(trace_spans_prune_task)

    assert sum(o["result"] or 0 for o in outcomes) == 3
    assert list(TraceSpan.objects.values_list("pk", flat=True)) == [recent.pk]
    assert trace_spans_prune_task()["result"] == 0


@pytest.mark.django_db(transaction=True)
def test_the_archive_job_moves_old_conversations_to_one_file_once(analyst, backup_dir, settings):
    from agents.tests.test_archive import conversation_with_history

    settings.CONVERSATION_ARCHIVE_AFTER_DAYS = 90
    old = conversation_with_history(analyst, title="Old", age_days=91)
    fresh = conversation_with_history(analyst, title="Fresh", age_days=10)

    outcomes = run_twice_at_once(conversations_archive_task)

    assert sum(o["result"] or 0 for o in outcomes) == 1
    assert not Conversation.objects.filter(pk=old.pk).exists()
    assert Conversation.objects.filter(pk=fresh.pk).exists()
    assert len(list(backup_dir.glob("conversations-*.jsonl.gz"))) == 1
    assert conversations_archive_task()["result"] == 0
    assert len(list(backup_dir.glob("conversations-*.jsonl.gz"))) == 1


@pytest.mark.django_db
def test_the_archive_job_is_off_at_zero_days(analyst, backup_dir, settings):
    from agents.tests.test_archive import conversation_with_history

    settings.CONVERSATION_ARCHIVE_AFTER_DAYS = 0
    conversation_with_history(analyst, title="Ancient", age_days=5000)
    assert conversations_archive_task() == {
        "job": "conversation-archive",
        "ran": True,
        "result": 0,
        "seconds": pytest.approx(0, abs=1),
    }
    assert Conversation.objects.count() == 1
    assert not backup_dir.exists()


@pytest.mark.django_db(transaction=True)
def test_the_rollup_job_sums_closed_days_once(analyst):
    # Noon of the latest closed day (yesterday, or the day before in the first minutes after
    # midnight, while yesterday's grace runs): the job sums only closed days.
    from billing.rollups import day_start, last_closed_day

    yesterday = day_start(last_closed_day()) + timedelta(hours=12)
    for _ in range(2):
        record_query(tenant=analyst.tenant, user=analyst.user, lines=[model_line()], at=yesterday)

    outcomes = run_twice_at_once(ledger_rollups_task)

    assert {o["result"] for o in outcomes if o["ran"]} == {UsageBucket.objects.count()}
    from billing.models import UsageUserBucket

    day = datetime(yesterday.year, yesterday.month, yesterday.day, tzinfo=UTC)
    (bucket,) = UsageUserBucket.objects.filter(start=day, hours=24, user_id=analyst.user.pk)
    assert bucket.queries == 2
    buckets_before = UsageBucket.objects.count()
    ledger_rollups_task()
    assert UsageBucket.objects.count() == buckets_before
    assert UsageUserBucket.objects.filter(start=day, hours=24).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_expiry_job_releases_each_stale_hold_exactly_once(analyst, other_tenant_analyst):
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    for member in (analyst, other_tenant_analyst):
        set_budget(member.tenant, "10")
        budget_reserve(
            tenant=member.tenant,
            user=member.user,
            query_id=uuid.uuid4(),
            amount_usd=Decimal("1"),
            tokens=0,
            now=long_ago,
        )

    outcomes = run_twice_at_once(reservations_expire_task)

    assert sum(o["result"] or 0 for o in outcomes) == 2
    assert not Reservation.objects.filter(status="active").exists()
    # Released once: a second release would have driven the reserved sums below zero.
    reserved = BudgetPeriod.objects.values_list("reserved_usd", flat=True)
    assert set(reserved) == {Decimal(0)}
    assert reservations_expire_task()["result"] == 0


@pytest.mark.django_db(transaction=True)
def test_the_slot_job_drops_only_expired_stream_slots(analyst, own_redis_prefix, settings):
    settings.RATE_LIMIT_STREAM_SLOT_TTL_SECONDS = 60
    quota = tenant_quota_get(tenant=analyst.tenant)
    an_hour_ago = timezone.now().timestamp() - 3600
    # Taking a slot drops the expired ones it sees, so the live one is taken first.
    stream_slot_acquire(tenant=analyst.tenant, user=analyst.user, quota=quota, slot_id="live")
    stream_slot_acquire(
        tenant=analyst.tenant, user=analyst.user, quota=quota, slot_id="dead-process",
        clock=lambda: an_hour_ago,
    )  # fmt: skip
    key = stream_key(analyst.tenant, analyst.user)
    assert redis_client().zcard(key) == 2

    outcomes = run_twice_at_once(stream_slots_expire_task)

    assert sum(o["result"] or 0 for o in outcomes) == 1
    assert redis_client().zrange(key, 0, -1) == [b"live"]
    assert stream_slots_held(tenant=analyst.tenant, user=analyst.user) == 1
    assert stream_slots_expire_task()["result"] == 0


# --- Running a job by hand -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_run_job_runs_the_named_jobs_and_refuses_unknown_names(settings):
    settings.TRACE_RETENTION_DAYS = 30
    old_span(days=40)
    out = StringIO()
    call_command("run_job", "trace-prune", "budget-holds-expire", stdout=out)
    lines = out.getvalue().splitlines()
    assert '"job": "trace-prune", "ran": true, "result": 1' in lines[0]
    assert '"job": "budget-holds-expire", "ran": true, "result": 0' in lines[1]
    with pytest.raises(CommandError, match="Unknown job"):
        call_command("run_job", "nightly-backup", stdout=StringIO())


# --- Documents left "processing" by a lost ingestion worker ------------------------------------

FILING = "# Results\n\nNet sales grew to $90 million in fiscal 2023, up from $80 million.\n"


def processing_document(tenant, name: str, *, attempts: int, began_ago: timedelta) -> Document:
    """A document as a worker SIGKILLed mid-ingest leaves it: processing, its delivery counted."""
    document, _ = document_register(
        tenant=tenant, user=None, data=f"{FILING}{name}".encode(), filename=name, queue=False
    )
    Document.objects.filter(pk=document.pk).update(
        status=Document.Status.PROCESSING,
        progress=15,
        ingest_attempts=attempts,
        updated_at=timezone.now() - began_ago,
    )
    return document


@pytest.mark.django_db(transaction=True)
def test_the_stuck_sweep_requeues_or_fails_lost_ingestions_and_leaves_running_ones(
    analyst, settings
):
    settings.INGEST_TASK_MAX_ATTEMPTS = 3
    settings.INGEST_TASK_TIME_LIMIT = 960
    settings.INGEST_STUCK_MARGIN_SECONDS = 300
    lost = processing_document(
        analyst.tenant, "lost.md", attempts=1, began_ago=timedelta(minutes=30)
    )
    spent = processing_document(
        analyst.tenant, "spent.md", attempts=3, began_ago=timedelta(minutes=30)
    )
    # Began 10 minutes ago: within its time limit, a worker may still be on it.
    running = processing_document(
        analyst.tenant, "running.md", attempts=1, began_ago=timedelta(minutes=10)
    )

    outcome = run_in_thread(documents_stuck_sweep_task)

    assert outcome["ran"] is True
    assert outcome["result"] == {"requeued": [lost.pk], "failed": [spent.pk]}
    lost.refresh_from_db()
    spent.refresh_from_db()
    running.refresh_from_db()
    # Queued again (Celery runs eagerly in tests): the second delivery ingested it.
    assert (lost.status, lost.ingest_attempts, lost.chunk_count > 0) == ("ready", 2, True)
    assert spent.status == "failed"
    assert spent.error_code == "ingest_stuck"
    assert "3 times" in spent.error_message
    assert (running.status, running.ingest_attempts) == ("processing", 1)
    # A repeat finds nothing left to do.
    assert run_in_thread(documents_stuck_sweep_task)["result"] == {"requeued": [], "failed": []}


@pytest.mark.django_db(transaction=True)
def test_two_stuck_sweeps_at_once_queue_a_lost_document_once(analyst, monkeypatch):
    from retrieval import tasks

    lost = processing_document(analyst.tenant, "lost2.md", attempts=1, began_ago=timedelta(hours=1))
    sent: list[int] = []
    monkeypatch.setattr(tasks, "document_ingest_enqueue", sent.append)
    outcomes = run_twice_at_once(documents_stuck_sweep_task)
    assert sent == [lost.pk]
    assert sorted(o["ran"] for o in outcomes) in ([False, True], [True, True])


def test_the_broker_hands_back_a_lost_ingestion_within_its_time_limit_not_an_hour():
    """kombu's Redis default (3600 s) kept a SIGKILLed worker's document for an hour."""
    from celery import current_app as app

    timeout = app.conf.broker_transport_options["visibility_timeout"]
    assert settings.INGEST_TASK_TIME_LIMIT < timeout <= settings.INGEST_TASK_TIME_LIMIT + 300
