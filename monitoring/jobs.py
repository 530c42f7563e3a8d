"""Scheduled housekeeping jobs: each runs under one Postgres advisory lock, so never twice at once.

Celery beat enqueues them (config/settings/base.py, CELERY_BEAT_SCHEDULE), and nothing stops a
second copy from starting while the first still runs: a slow backup overtaken by the next tick,
a run started by hand with `manage.py run_job`, two workers picking up a re-delivered message.
`scheduled_job(name)` wraps the job so only one copy runs; the other returns at once with
`ran=False`. The lock is a session-level advisory lock: it goes away with the connection, so a
worker killed mid-job never leaves it held (a Redis lock would need a TTL guessed to outlast the
slowest backup). Every job is also idempotent on its own, so running it again later is harmless.

Every decorated function is recorded in JOBS (job name -> dotted path, which is also its Celery
task name): that is how the test of the beat schedule finds every task meant to be periodic.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec

from django.db import connection

logger = logging.getLogger(__name__)

P = ParamSpec("P")

_LOCK_NAMESPACE = "finrag:scheduled-job:"

# Job name -> dotted path of the function, filled as the tasks modules are imported.
JOBS: dict[str, str] = {}


@dataclass(frozen=True)
class JobRun:
    """What one invocation of a scheduled job did: ran it, or skipped it because another held
    the lock. `result` is the job's own return value (a count or a path) when it ran."""

    job: str
    ran: bool
    result: Any = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        result = (
            self.result
            if isinstance(self.result, int | float | str | dict | list | None)
            else str(self.result)
        )
        return {"job": self.job, "ran": self.ran, "result": result, "seconds": self.seconds}


def job_lock_key(name: str) -> int:
    """The signed 64-bit advisory-lock key of a job name (stable across processes and releases)."""
    digest = hashlib.blake2b((_LOCK_NAMESPACE + name).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def job_lock(name: str) -> Iterator[bool]:
    """Try to take the job's advisory lock on this thread's database connection; yields whether
    it was taken, and releases it on exit. Never waits."""
    key = job_lock_key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def scheduled_job(name: str) -> Callable[[Callable[P, Any]], Callable[P, dict[str, Any]]]:
    """Decorate a job so that only one copy runs at a time across every process; the wrapped
    function returns `JobRun.as_dict()` (JSON-friendly, for Celery). Errors propagate."""

    def decorate(function: Callable[P, Any]) -> Callable[P, dict[str, Any]]:
        path = f"{function.__module__}.{function.__name__}"
        if JOBS.setdefault(name, path) != path:
            raise ValueError(f"Two scheduled jobs are named {name!r}: {JOBS[name]} and {path}.")

        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> dict[str, Any]:
            started = time.monotonic()
            with job_lock(name) as acquired:
                if not acquired:
                    logger.info("Scheduled job %s is already running elsewhere; skipped", name)
                    return JobRun(job=name, ran=False).as_dict()
                result = function(*args, **kwargs)
            seconds = round(time.monotonic() - started, 3)
            logger.info("Scheduled job %s finished in %.3f s: %s", name, seconds, result)
            return JobRun(job=name, ran=True, result=result, seconds=seconds).as_dict()

        return run

    return decorate
