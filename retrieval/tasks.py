"""Celery tasks of retrieval: ingest one document by id, retrying transient failures."""

from __future__ import annotations

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from retrieval import services

TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


@shared_task(
    bind=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=5,
    acks_late=True,
)
def document_ingest_task(self: Task, document_id: int) -> dict[str, object]:
    try:
        outcome = services.document_ingest(document_id=document_id)
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
    return {"document_id": outcome.document_id, "status": outcome.status, "chunks": outcome.chunks}
