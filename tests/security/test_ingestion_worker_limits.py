"""A file that stops the ingestion worker must not stall ingestion for every tenant (issue #12,
item 10): deliveries are bounded and each ingestion has a soft and a hard time limit; either way
the document ends failed with its reason, never stuck "processing".

These tests start a real Celery worker (prefork, one process) on the test database with the
limits set through the environment, as an operator would set them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from django.conf import settings

from accounts.services import tenant_create
from config.celery import app as celery_app
from retrieval.models import Document
from retrieval.services import document_register
from retrieval.tasks import document_ingest_enqueue
from tests.live_server import database_url

pytestmark = pytest.mark.django_db(transaction=True)

BASE_DIR = Path(__file__).resolve().parents[2]
WORKER_START_SECONDS = 120
SETTLE_SECONDS = 180
PARSED = 15  # the progress a delivery reports once the file is parsed


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    queue: str
    log: Path

    def pool_processes(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """Start a Celery worker on the test database with extra environment; stopped afterwards."""
    started: list[Worker] = []

    def start(**environment: str) -> Worker:
        queue = f"ingest-limits-{os.getpid()}-{len(started)}-{time.monotonic_ns()}"
        log = tmp_path / f"worker-{len(started)}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "PYTHONUNBUFFERED": "1",
            **environment,
        }
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "--pool=prefork", "--concurrency=1", "--loglevel=INFO", "-Q", queue,
            "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{queue}@%h",
        ]  # fmt: skip
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        worker = Worker(process=process, queue=queue, log=log)
        started.append(worker)
        deadline = time.monotonic() + WORKER_START_SECONDS
        while " ready." not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker did not start:\n{worker.log_tail()}")
            time.sleep(0.2)
        return worker

    yield start
    for worker in started:
        worker.process.terminate()
    for worker in started:
        try:
            worker.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            for child in worker.pool_processes():
                child.kill()
            worker.process.kill()
            worker.process.wait(timeout=10)


@pytest.fixture
def to_the_broker() -> Iterator[None]:
    """Send tasks to Redis for the worker instead of running them in this process."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = eager


def long_filing(paragraphs: int) -> bytes:
    """A text filing of distinct paragraphs: a few hundred chunks take seconds to embed."""
    return "\n\n".join(
        f"Segment {n} reported net sales of ${n * 37 + 1_000:,} million in fiscal {2000 + n % 24}, "
        f"with operating income of ${n * 11 + 90:,} million; management attributes the change "
        f"to pricing in region {n % 17}, new contracts numbered {n * 101} and lower freight "
        f"costs, while capital expenditures of ${n * 3 + 40} million went to plant {n % 29}."
        for n in range(paragraphs)
    ).encode()


def queued_document(data: bytes, worker: Worker) -> Document:
    tenant, _ = tenant_create(slug="limits", tier_slug="pro")
    document, _ = document_register(
        tenant=tenant, user=None, data=data, filename="filing.txt", queue=False
    )
    document_ingest_enqueue(document.pk, queue=worker.queue)
    return document


def settled(document: Document, worker: Worker) -> Document:
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        document.refresh_from_db()
        if document.status in (Document.Status.READY, Document.Status.FAILED):
            return document
        time.sleep(0.2)
    pytest.fail(f"document still {document.status}; worker log:\n{worker.log_tail()}")


def test_a_file_that_kills_the_worker_is_given_up_after_the_attempt_limit(
    start_worker, to_the_broker
):
    worker = start_worker(INGEST_TASK_MAX_ATTEMPTS="2")
    document = queued_document(long_filing(300), worker)
    kills = 0
    deadline = time.monotonic() + SETTLE_SECONDS
    while kills <= 3 and time.monotonic() < deadline:
        document.refresh_from_db()
        if document.status == Document.Status.FAILED:
            break
        if document.status == Document.Status.PROCESSING and document.progress >= PARSED:
            # The file is parsed and the model is loading: kill the process running the task,
            # as the kernel's OOM killer would, then clear the progress so that the next
            # delivery shows itself by setting it again.
            for process in worker.pool_processes():
                process.kill()
            Document.objects.filter(pk=document.pk).update(progress=0)
            kills += 1
        time.sleep(0.1)

    document.refresh_from_db()
    seen = f"{kills} kills, document {document.status}; worker log:\n{worker.log_tail()}"
    assert document.status == Document.Status.FAILED, seen
    assert document.error_code == "ingest_attempts_exhausted"
    assert "2 attempts" in document.error_message
    assert kills == 2, seen
    assert not document.chunks.exists()


def test_an_ingestion_past_the_soft_time_limit_is_stopped_and_marked_failed(
    start_worker, to_the_broker
):
    worker = start_worker(INGEST_TASK_SOFT_TIME_LIMIT="1", INGEST_TASK_TIME_LIMIT="60")
    document = settled(queued_document(long_filing(600), worker), worker)

    assert document.status == Document.Status.FAILED, worker.log_tail()
    assert document.error_code == "ingest_timeout"
    assert "longer than 1 s" in document.error_message
    assert not document.chunks.exists()


def test_an_ingestion_killed_at_the_hard_time_limit_is_marked_failed(start_worker, to_the_broker):
    worker = start_worker(INGEST_TASK_SOFT_TIME_LIMIT="0", INGEST_TASK_TIME_LIMIT="2")
    document = settled(queued_document(long_filing(600), worker), worker)

    assert document.status == Document.Status.FAILED, worker.log_tail()
    assert document.error_code == "ingest_timeout"
    assert "longer than 2 s" in document.error_message
    assert not document.chunks.exists()
    assert "Hard time limit (2s) exceeded" in worker.log_tail()
