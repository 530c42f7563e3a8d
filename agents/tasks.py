"""Celery tasks of agents: the nightly archival of conversations nobody has touched for long."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from agents.archive import conversations_archive
from monitoring.jobs import scheduled_job

TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3, acks_late=True)
@scheduled_job("conversation-archive")
def conversations_archive_task() -> int:
    """Move conversations untouched for CONVERSATION_ARCHIVE_AFTER_DAYS into a gzip JSON Lines
    file in BACKUP_DIR (deleted from the database once the file reads back); 0 days turns it
    off. Returns how many were deleted. Archives are never rotated: they are the only copy."""
    days = int(settings.CONVERSATION_ARCHIVE_AFTER_DAYS)
    if days <= 0:
        return 0
    now = timezone.now()
    path = Path(settings.BACKUP_DIR) / f"conversations-{now:%Y%m%dT%H%M%S%fZ}.jsonl.gz"
    summary = conversations_archive(older_than=timedelta(days=days), path=path, now=now)
    return summary.deleted
