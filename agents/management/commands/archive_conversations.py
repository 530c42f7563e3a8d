"""manage.py archive_conversations --older-than 30d --to PATH [--tenant SLUG] [--keep]."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.errors import ApplicationError
from accounts.models import Tenant
from agents.archive import conversations_archive
from monitoring.retention import age_parse


class Command(BaseCommand):
    help = (
        "Export conversations not updated for a while (with messages, checkpoints and feedback) "
        "to gzip-compressed JSON Lines, then delete them once the file is verified."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", required=True, help="age such as 30d, 12h or 4w")
        parser.add_argument(
            "--to",
            required=True,
            help="archive file (.jsonl.gz), or an existing directory to create one in",
        )
        parser.add_argument("--tenant", default=None, help="only this tenant's (slug)")
        parser.add_argument(
            "--keep", action="store_true", help="write the archive but delete nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            older_than = age_parse(options["older_than"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        tenant = None
        if options["tenant"]:
            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"No tenant '{options['tenant']}'.")
        path = Path(options["to"])
        if path.is_dir():
            stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
            path = path / f"conversations-{stamp}.jsonl.gz"
        try:
            summary = conversations_archive(
                older_than=older_than, path=path, tenant=tenant, delete=not options["keep"]
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if summary.path is None:
            self.stdout.write("No conversation is old enough to archive; nothing written.")
            return
        self.stdout.write(
            f"Archived {summary.conversations} conversations ({summary.messages} messages, "
            f"{summary.checkpoints} checkpoints, {summary.feedback} feedback) to {summary.path}; "
            f"deleted {summary.deleted}."
        )
        if summary.kept_changed:
            kept = ", ".join(str(i) for i in summary.kept_changed)
            self.stdout.write(f"Kept (changed while archiving, archived copy is stale): {kept}")
