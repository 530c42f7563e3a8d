"""Prepare the load test's database: a tenant with room for the load, its users and keys, and
the demo corpus; prints the users' keys as JSON. Safe to rerun (keys are issued anew)."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import django

    django.setup()
    from accounts.models import ApiKey
    from accounts.services import api_key_issue, tenant_create, user_create_in_tenant
    from agents.management.commands.demo_setup import DEMO_MANIFEST
    from retrieval.services import corpus_load_manifest

    tenant, _ = tenant_create(slug="loadtest", name="Load test", tier_slug="pro")
    # The load is the point: quotas must not be what the test measures.
    tenant.monthly_budget_usd_override = Decimal(1_000_000)
    tenant.monthly_token_allowance_override = 10**12
    tenant.requests_per_minute_user_override = 10_000
    tenant.requests_per_minute_tenant_override = 1_000_000
    tenant.concurrent_streams_user_override = 100
    tenant.save()
    ApiKey.objects.filter(tenant=tenant).update(revoked=True)
    keys = []
    for n in range(args.users):
        user, _, _ = user_create_in_tenant(
            tenant=tenant, email=f"user{n:03d}@loadtest.example", role="analyst"
        )
        keys.append(api_key_issue(tenant=tenant, user=user, name="load").raw_key)
    outcomes = corpus_load_manifest(tenant=tenant, manifest=DEMO_MANIFEST)
    ready = sum(1 for outcome in outcomes if outcome.status == "ready")
    args.out.write_text(json.dumps({"tenant": tenant.slug, "keys": keys}))
    print(f"load tenant {tenant.slug}: {len(keys)} users, corpus {ready}/{len(outcomes)} ready")


if __name__ == "__main__":
    main()
