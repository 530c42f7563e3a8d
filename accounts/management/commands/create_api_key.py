"""manage.py create_api_key --tenant SLUG --user EMAIL: prints the raw key once."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.errors import ApplicationError
from accounts.models import Tenant, User
from accounts.services import api_key_issue


class Command(BaseCommand):
    help = "Issue an API key for a member of a tenant; the raw key is printed once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--user", required=True)
        parser.add_argument("--name", default="cli")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant '{options['tenant']}'.")
        user = User.objects.filter(email=options["user"].lower()).first()
        if user is None:
            raise CommandError(f"No user '{options['user']}'.")
        try:
            issued = api_key_issue(tenant=tenant, user=user, name=options["name"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(issued.raw_key)
        self.stderr.write(
            f"API key {issued.api_key.prefix} for {user.email} in {tenant.slug}. "
            "Store it now: it is not shown again."
        )
