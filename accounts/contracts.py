"""Data that leaves the accounts app: the effective quota of a tenant."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Quota:
    tenant_id: int
    tier: str
    monthly_budget_usd: Decimal
    monthly_token_allowance: int
    requests_per_minute_user: int
    requests_per_minute_tenant: int
    concurrent_streams_user: int
    max_documents: int
    max_upload_bytes: int


@dataclass(frozen=True)
class TenantRef:
    """A tenant as other apps see it (never the model instance)."""

    id: int
    slug: str
    name: str
    tier: str
    pii_policy: str
