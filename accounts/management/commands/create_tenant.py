"""manage.py create_tenant SLUG [--name NAME] [--tier TIER]: idempotent."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.errors import ApplicationError
from accounts.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant (or confirm it exists)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", default=None)
        parser.add_argument("--tier", default="free")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant, created = tenant_create(
                slug=options["slug"], name=options["name"], tier_slug=options["tier"]
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        verb = "Created" if created else "Exists:"
        self.stdout.write(f"{verb} tenant {tenant.slug} ({tenant.name}, tier {tenant.tier.slug})")
