"""manage.py backup [--to PATH]: pg_dump the database (custom format, vectors included)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from monitoring.backups import BackupFailed, backup_path, database_backup


class Command(BaseCommand):
    help = (
        "Back up the whole database (schema, data and pgvector embeddings) with pg_dump's "
        "compressed custom format; restore it with `manage.py restore PATH`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--to",
            default=None,
            help="archive file, or a directory to create one in (default: BACKUP_DIR)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        db = settings.DATABASES["default"]
        path = Path(options["to"] or settings.BACKUP_DIR)
        if path.is_dir() or options["to"] is None:
            path = backup_path(directory=path, database=str(db["NAME"]), now=timezone.now())
        try:
            result = database_backup(db=db, path=path)
        except (BackupFailed, FileExistsError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Backed up database {result.database} to {result.path} "
            f"({result.size_bytes:,} bytes, {result.entries} entries)."
        )
