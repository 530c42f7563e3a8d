"""manage.py ingest PATH... --tenant SLUG [--reingest]: ingest files and directories (recursively)
now; --reingest parses, chunks and embeds again the files already ingested."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.errors import ApplicationError
from accounts.models import Tenant
from monitoring.terminal import progress_bar
from retrieval.models import Document
from retrieval.services import (
    DocumentMetadata,
    document_ingest,
    document_mark_failed,
    document_register,
    document_reingest,
)

logger = logging.getLogger(__name__)

SUFFIXES = {".pdf", ".htm", ".html", ".xhtml", ".txt", ".md", ".markdown", ".json"}


def collect(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
            )
        elif path.is_file():
            files.append(path)
        else:
            raise CommandError(f"No such file or directory: {raw}")
    return files


class Command(BaseCommand):
    help = "Ingest files (PDF, HTML/iXBRL, text, Markdown, JSON sections) into a tenant."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+")
        parser.add_argument(
            "--tenant", required=True, help="tenant slug, or 'shared' for the library"
        )
        parser.add_argument("--ticker", default="")
        parser.add_argument("--company", default="")
        parser.add_argument("--doc-type", default="other", choices=Document.DocType.values)
        parser.add_argument("--fiscal-year", type=int, default=None)
        parser.add_argument(
            "--fiscal-period", default="", choices=["", "FY", "Q1", "Q2", "Q3", "Q4"]
        )
        parser.add_argument(
            "--reingest",
            action="store_true",
            help="ingest again files that are already ready (their chunks are replaced only "
            "once the new ones are ready; on failure the old ones stay searchable)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenant: Tenant | None = None
        if options["tenant"] != "shared":
            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"No tenant '{options['tenant']}'.")
        files = collect(options["paths"])
        if not files:
            raise CommandError("No ingestible files found.")
        metadata = DocumentMetadata(
            company=options["company"],
            ticker=options["ticker"],
            doc_type=options["doc_type"],
            fiscal_year=options["fiscal_year"],
            fiscal_period=options["fiscal_period"],
        )
        ready, failed = 0, []
        for path in progress_bar(files, self.stderr, description="Ingesting", unit="file"):
            document = None
            try:
                document, created = document_register(
                    tenant=tenant,
                    user=None,
                    data=path.read_bytes(),
                    filename=path.name,
                    metadata=metadata,
                    queue=False,
                )
                if options["reingest"] and not created:
                    outcome = document_reingest(tenant=tenant, document_id=document.pk)
                else:
                    outcome = document_ingest(document_id=document.pk)
            except ApplicationError as exc:
                failed.append((path, exc.message))
                continue
            except Exception as exc:
                # One file must not stop the others: it is marked failed (never left
                # "processing") and reported with the rest; the traceback goes to the log.
                logger.exception("Ingesting %s failed", path)
                reason = f"ingestion failed unexpectedly ({type(exc).__name__}: {exc})"[:500]
                if document is not None:
                    document_mark_failed(
                        document_id=document.pk, code="internal_error", message=reason
                    )
                failed.append((path, reason))
                continue
            if outcome.status == Document.Status.READY:
                ready += 1
            elif Document.objects.filter(pk=document.pk, status=Document.Status.READY).exists():
                failed.append((path, f"{outcome.error} (the previous version stays searchable)"))
            else:
                failed.append((path, outcome.error))
        self.stdout.write(f"{ready} ready, {len(failed)} failed, {len(files)} file(s)")
        for path, reason in failed:
            self.stdout.write(f"  FAILED {path}: {reason}")
