"""manage.py create_user EMAIL --tenant SLUG --role ROLE [--password ...]: idempotent."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.errors import ApplicationError
from accounts.models import Membership, Tenant
from accounts.services import user_create_in_tenant


class Command(BaseCommand):
    help = "Create a user (or find them) and give them a role in a tenant."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--role", required=True, choices=Membership.Role.values)
        parser.add_argument("--password", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant '{options['tenant']}'. Create it with create_tenant.")
        try:
            user, membership, created = user_create_in_tenant(
                tenant=tenant,
                email=options["email"],
                role=options["role"],
                password=options["password"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        verb = "Created" if created else "Exists:"
        self.stdout.write(f"{verb} {user.email} as {membership.role} in {tenant.slug}")
