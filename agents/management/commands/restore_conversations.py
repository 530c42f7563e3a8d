"""manage.py restore_conversations PATH: bring archived conversations back (idempotent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.errors import ApplicationError
from agents.archive import conversations_restore


class Command(BaseCommand):
    help = (
        "Restore the conversations of an archive written by archive_conversations; those "
        "already present are skipped, so running it twice changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="archive file (.jsonl.gz)")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        try:
            summary = conversations_restore(path=path)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Restored {summary.restored} conversations ({summary.messages} messages, "
            f"{summary.checkpoints} checkpoints, {summary.feedback} feedback); "
            f"{summary.already_present} already present"
            + (f", {summary.renumbered} given new ids" if summary.renumbered else "")
            + "."
        )
        for reason in summary.skipped:
            self.stderr.write(f"Skipped {reason}")
