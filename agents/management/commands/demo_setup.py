"""manage.py demo_setup: demo tenant, analyst and API key (printed once); safe to rerun."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.models import ApiKey
from accounts.services import api_key_issue, tenant_create, user_create_in_tenant
from retrieval.services import corpus_load_manifest

DEMO_MANIFEST = Path(__file__).resolve().parents[3] / "retrieval" / "demo_corpus" / "manifest.json"

DEMO_TENANT = "demo"
DEMO_EMAIL = "analyst@demo.example"
DEMO_PASSWORD = "demo-analyst-password"  # noqa: S105 - a documented local demo credential


class Command(BaseCommand):
    help = "Create the demo tenant, user and API key, and load the demo corpus."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default=DEMO_PASSWORD)

    def handle(self, *args: Any, **options: Any) -> None:
        tenant, _ = tenant_create(slug=DEMO_TENANT, name="Demo Research", tier_slug="pro")
        user, membership, _ = user_create_in_tenant(
            tenant=tenant, email=DEMO_EMAIL, role="analyst", password=options["password"]
        )
        self.stdout.write(f"Tenant: {tenant.slug} (tier {tenant.tier.slug})")
        self.stdout.write(f"Sign in: {user.email} / {options['password']} ({membership.role})")
        existing = ApiKey.objects.filter(tenant=tenant, user=user, revoked=False).first()
        if existing is None:
            issued = api_key_issue(tenant=tenant, user=user, name="demo")
            self.stdout.write(f"API key (shown once, store it now): {issued.raw_key}")
        else:
            self.stdout.write(
                f"API key {existing.prefix}... exists; issue another with "
                f"`manage.py create_api_key --tenant {tenant.slug} --user {user.email}`."
            )
        self.stdout.write("Loading the demo corpus (first run embeds it: about a minute)...")
        outcomes = corpus_load_manifest(tenant=tenant, manifest=DEMO_MANIFEST)
        ready = sum(1 for outcome in outcomes if outcome.status == "ready")
        self.stdout.write(f"Demo corpus: {ready}/{len(outcomes)} documents ready.")
