"""What happens when an ingestion fails or its worker is lost: the reason recorded (a ready
document keeps its chunks), deliveries counted, and documents stuck "processing" rescued."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from retrieval.models import Chunk, Document

logger = logging.getLogger(__name__)


def ingest_failure_record(*, document_id: int, code: str, message: str) -> str:
    """Record why an ingestion failed and return the document's status afterwards.

    A document that was ready keeps its chunks and stays searchable (a failed re-ingest must not
    take away what worked); it carries the reason until an ingestion succeeds. Any other document
    becomes failed and holds no chunk.
    """
    with transaction.atomic():
        kept = Document.objects.filter(pk=document_id, status=Document.Status.READY).update(
            error_code=code[:64], error_message=message
        )
        if kept:
            return Document.Status.READY
        Chunk.objects.filter(document_id=document_id).delete()
        Document.objects.filter(pk=document_id).update(
            status=Document.Status.FAILED,
            error_code=code[:64],
            error_message=message,
            progress=100,
            chunk_count=0,
        )
    return Document.Status.FAILED


def document_mark_failed(*, document_id: int, code: str, message: str) -> None:
    """Give up on a document's ingestion (retries spent, time limit, lost worker, a bug).

    A document that is ready keeps its chunks (see ingest_failure_record); any other holds none.
    """
    ingest_failure_record(document_id=document_id, code=code, message=message)


def document_ingest_attempt_begin(*, document_id: int, max_attempts: int) -> bool:
    """Count one more delivery of a document's ingestion; False once it has had max_attempts.

    The ingestion task calls this first on every delivery, so a file that kills the worker (out
    of memory, a crash in a native library, the hard time limit) is not redelivered forever: the
    delivery after the last allowed one marks the document failed without touching the file.
    A ready document is not counted (document_ingest returns at once for it).
    """
    # updated_at marks when this delivery began: documents_stuck_sweep reads it (update() does
    # not touch auto_now fields by itself).
    counted = (
        Document.objects.filter(pk=document_id, ingest_attempts__lt=max_attempts)
        .exclude(status=Document.Status.READY)
        .update(ingest_attempts=F("ingest_attempts") + 1, updated_at=timezone.now())
    )
    if counted:
        return True
    document = Document.objects.filter(pk=document_id).only("status").first()
    if document is None or document.status == Document.Status.READY:
        return document is not None
    ingest_failure_record(
        document_id=document_id,
        code="ingest_attempts_exhausted",
        message=(
            f"Ingestion was stopped after {max_attempts} attempts: each one ended the ingestion "
            "worker (a crash, running out of memory or the time limit). Try another copy of "
            "the file, or split it."
        ),
    )
    return False


@dataclass(frozen=True)
class StuckSweep:
    """What one documents_stuck_sweep did: documents sent to the workers again, and failed."""

    requeued: list[int]
    failed: list[int]

    def as_dict(self) -> dict[str, list[int]]:
        return {"requeued": self.requeued, "failed": self.failed}


def documents_stuck_sweep(
    *, stuck_after: timedelta, max_attempts: int, enqueue: Callable[[int], None]
) -> StuckSweep:
    """Rescue documents left "processing" by an ingestion that no longer runs.

    Each delivery of the ingestion task stamps updated_at when it begins, and the task's hard
    time limit ends any delivery within INGEST_TASK_TIME_LIMIT: a document still "processing"
    `stuck_after` (that limit plus a margin) after its last delivery began has no worker on it
    (a worker SIGKILLed with its whole process group, a broker that lost the message). Below
    `max_attempts` deliveries it is queued again (`enqueue(document_id)`); at the limit it is
    failed with the reason. Each document is claimed with a conditional update, so two sweeps
    at once never both act on it, and a repeat finds nothing to do.
    """
    now = timezone.now()
    cutoff = now - stuck_after
    requeued: list[int] = []
    failed: list[int] = []
    stuck = Document.objects.filter(
        status=Document.Status.PROCESSING, updated_at__lt=cutoff
    ).values_list("pk", "ingest_attempts")
    for document_id, attempts in list(stuck):
        claimed = Document.objects.filter(
            pk=document_id, status=Document.Status.PROCESSING, updated_at__lt=cutoff
        ).update(updated_at=now)
        if not claimed:
            continue
        if attempts < max_attempts:
            logger.warning(
                "Document %s stuck processing since %s (attempt %s of %s): queued again",
                document_id,
                cutoff,
                attempts,
                max_attempts,
            )
            enqueue(document_id)
            requeued.append(document_id)
            continue
        logger.warning(
            "Document %s stuck processing after %s attempts: failed", document_id, attempts
        )
        ingest_failure_record(
            document_id=document_id,
            code="ingest_stuck",
            message=(
                f"Ingestion stopped without finishing {attempts} times (the ingestion worker "
                "was lost each time). Try another copy of the file, or split it."
            ),
        )
        failed.append(document_id)
    return StuckSweep(requeued=requeued, failed=failed)
