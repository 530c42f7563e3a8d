"""manage.py restore PATH [--database NAME [--create]] [--yes]: restore a `backup` archive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.backups import BackupFailed, database_create, database_restore


class Command(BaseCommand):
    help = (
        "Restore an archive written by `manage.py backup`, in one transaction. Into the "
        "configured database it replaces everything and needs --yes (stop web and workers "
        "first); --database NAME --create restores into a new database beside it instead."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="archive written by manage.py backup")
        parser.add_argument(
            "--database", default=None, help="restore into this database on the same server"
        )
        parser.add_argument(
            "--create", action="store_true", help="create --database first (it must not exist)"
        )
        parser.add_argument(
            "--yes",
            action="store_true",
            help="confirm replacing the configured database's contents",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        db = settings.DATABASES["default"]
        target = options["database"] or db["NAME"]
        if options["create"] and not options["database"]:
            raise CommandError("--create needs --database NAME (a new database).")
        if target == db["NAME"] and not options["yes"]:
            raise CommandError(
                f"This replaces everything in database {target}. Stop the web and worker "
                "processes, then run again with --yes (or restore into --database NAME --create)."
            )
        try:
            if options["create"]:
                database_create(db=db, name=target)
            entries = database_restore(db=db, path=Path(options["path"]), database=target)
        except (BackupFailed, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Restored {entries} entries from {options['path']} into {target}.")
