"""Celery tasks of monitoring: the nightly database backup (with retention) and trace pruning."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from monitoring.backups import backup_path, backups_rotate, database_backup
from monitoring.jobs import scheduled_job
from monitoring.retention import trace_spans_prune

TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3, acks_late=True)
@scheduled_job("database-backup")
def database_backup_task() -> str:
    """pg_dump into BACKUP_DIR, then keep only the newest BACKUP_KEEP backups; returns the path
    written (or the one already taken this second, which makes a repeat harmless)."""
    db: dict[str, Any] = settings.DATABASES["default"]
    directory = Path(settings.BACKUP_DIR)
    path = backup_path(directory=directory, database=str(db["NAME"]), now=timezone.now())
    if not path.exists():
        database_backup(db=db, path=path)
    backups_rotate(directory=directory, database=str(db["NAME"]), keep=settings.BACKUP_KEEP)
    return str(path)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3, acks_late=True)
@scheduled_job("trace-prune")
def trace_spans_prune_task() -> int:
    """Delete stored trace spans older than TRACE_RETENTION_DAYS; returns how many went."""
    return trace_spans_prune(older_than=timedelta(days=settings.TRACE_RETENTION_DAYS))
