"""Celery tasks of retrieval: ingest one document by id, with bounded deliveries and time limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from monitoring.jobs import scheduled_job
from retrieval import services

TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


def _timeout_message(seconds: int) -> str:
    return (
        f"Ingestion took longer than {seconds} s and was stopped; "
        "split the file or upload a smaller copy."
    )


class IngestTask(Task):
    """Marks the document failed when the hard time limit kills the worker process.

    Celery calls on_failure in the worker's main process for a hard time limit (the process that
    ran the task is gone, so the task's own handlers never run) and then acknowledges the
    message; without this the document would stay "processing" for ever.
    """

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        if isinstance(exc, TimeLimitExceeded) and args:
            services.document_mark_failed(
                document_id=int(args[0]),
                code="ingest_timeout",
                message=_timeout_message(settings.INGEST_TASK_TIME_LIMIT),
            )


@shared_task(
    bind=True,
    base=IngestTask,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=max(0, settings.INGEST_TASK_MAX_ATTEMPTS - 1),
    # Acknowledged only once done, and handed back to the broker when the worker process dies,
    # so a crash loses no upload; document_ingest_attempt_begin bounds how often that happens.
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.INGEST_TASK_SOFT_TIME_LIMIT or None,
    time_limit=settings.INGEST_TASK_TIME_LIMIT or None,
)
def document_ingest_task(self: Task, document_id: int) -> dict[str, object]:
    if not services.document_ingest_attempt_begin(
        document_id=document_id, max_attempts=settings.INGEST_TASK_MAX_ATTEMPTS
    ):
        return {"document_id": document_id, "status": "failed", "chunks": 0}
    try:
        outcome = services.document_ingest(document_id=document_id)
    except SoftTimeLimitExceeded:
        # The limit may have interrupted a query half-way: mark the failure on a new connection.
        connection.close()
        services.document_mark_failed(
            document_id=document_id,
            code="ingest_timeout",
            message=_timeout_message(settings.INGEST_TASK_SOFT_TIME_LIMIT),
        )
        return {"document_id": document_id, "status": "failed", "chunks": 0}
    except TRANSIENT:
        if self.request.retries >= self.max_retries:
            services.document_mark_failed(
                document_id=document_id,
                code="ingest_unavailable",
                message="Ingestion kept failing on a temporary error; upload it again later.",
            )
        raise
    except Exception:
        # A bug must not leave the document "processing" forever.
        services.document_mark_failed(
            document_id=document_id,
            code="internal_error",
            message="Ingestion failed unexpectedly; the error was logged.",
        )
        raise
    return {"document_id": document_id, "status": outcome.status, "chunks": outcome.chunks}


def document_ingest_enqueue(document_id: int, *, queue: str | None = None) -> None:
    """Send a document to the ingestion workers.

    The time limits travel empty so that each worker applies its own INGEST_TASK_* settings:
    Celery would otherwise stamp the sending process's limits on the message.
    """
    options: dict[str, Any] = {"soft_time_limit": None, "time_limit": None}
    if queue:
        options["queue"] = queue
    document_ingest_task.apply_async(args=[document_id], **options)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3, acks_late=True)
@scheduled_job("ingest-stuck-sweep")
def documents_stuck_sweep_task() -> dict[str, list[int]]:
    """Queue again (or fail, past INGEST_TASK_MAX_ATTEMPTS) documents left "processing" longer
    than INGEST_TASK_TIME_LIMIT + INGEST_STUCK_MARGIN_SECONDS after their last delivery began."""
    return services.documents_stuck_sweep(
        stuck_after=timedelta(
            seconds=settings.INGEST_TASK_TIME_LIMIT + settings.INGEST_STUCK_MARGIN_SECONDS
        ),
        max_attempts=settings.INGEST_TASK_MAX_ATTEMPTS,
        enqueue=document_ingest_enqueue,
    ).as_dict()
