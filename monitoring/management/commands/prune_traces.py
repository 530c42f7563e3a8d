"""manage.py prune_traces [--older-than 30d]: delete stored trace spans past their retention."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.retention import age_parse, trace_spans_prune


class Command(BaseCommand):
    help = "Delete trace spans older than the given age (default TRACE_RETENTION_DAYS)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", default=None, help="age such as 30d, 12h or 4w")

    def handle(self, *args: Any, **options: Any) -> None:
        text = options["older_than"] or f"{settings.TRACE_RETENTION_DAYS}d"
        try:
            older_than = age_parse(text)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        deleted = trace_spans_prune(older_than=older_than)
        self.stdout.write(f"Deleted {deleted} trace spans older than {text}.")
