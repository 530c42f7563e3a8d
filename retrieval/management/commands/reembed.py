"""manage.py reembed --tenant SLUG [--model NAME]: move a tenant's documents to another model."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Tenant
from retrieval.embeddings import get_embedder
from retrieval.services import tenant_reembed


class Command(BaseCommand):
    help = "Re-embed a tenant's ready documents with another embedding model."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug, or 'shared'")
        parser.add_argument("--model", default=None, help="default: settings.EMBEDDING_MODEL")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = None
        if options["tenant"] != "shared":
            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"No tenant '{options['tenant']}'.")
        try:
            embedder = get_embedder(options["model"])
        except Exception as exc:
            raise CommandError(f"Cannot use model {options['model']}: {exc}") from exc
        count = tenant_reembed(tenant=tenant, embedder=embedder)
        self.stdout.write(f"Re-embedded {count} document(s) with {embedder.model_name}.")
