"""manage.py search "question" --tenant SLUG [--k 10] [--json]: hybrid search from the terminal."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.errors import ApplicationError
from accounts.models import Tenant
from monitoring.terminal import progress_status
from retrieval.selectors import chunk_search


class Command(BaseCommand):
    help = "Search a tenant's documents and print the hits with scores and pages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("question")
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--json", action="store_true")
        parser.add_argument(
            "--no-scope", action="store_true", help="do not scope from the question"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant '{options['tenant']}'.")
        try:
            with progress_status(self.stderr, "Searching the documents..."):
                result = chunk_search(
                    tenant=tenant,
                    query=options["question"],
                    k=options["k"],
                    auto_scope=not options["no_scope"],
                )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if options["json"]:
            scope = result.scope.as_dict()
            hits = [
                {
                    "document": hit.document_title,
                    "source": hit.source,
                    "page": hit.page,
                    "score": round(hit.score, 6),
                    "text": hit.text,
                    "scope": scope,
                }
                for hit in result.hits
            ]
            self.stdout.write(json.dumps(hits, indent=2))
            return
        self.stdout.write(f"Scope: {result.scope.description}")
        for rank, hit in enumerate(result.hits, start=1):
            snippet = " ".join(hit.text.split())[:160]
            self.stdout.write(
                f"{rank:>2}. {hit.score:.4f}  {hit.document_title} (p. {hit.page})  {snippet}"
            )
