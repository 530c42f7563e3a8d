"""Shared fixtures: tenants, members with roles, API clients authenticated by key or session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from accounts.models import Membership, Tenant, User
from accounts.services import api_key_issue, tenant_create, user_create_in_tenant

pytest_plugins = ["tests.fakes.llm_server"]


@dataclass
class Member:
    tenant: Tenant
    user: User
    membership: Membership
    raw_key: str

    def client(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.raw_key}")
        return client

    def session_client(self) -> APIClient:
        """Signed in with a browser session (what issuing API keys needs)."""
        client = APIClient()
        client.force_login(self.user)
        return client


MemberFactory = Callable[..., Member]


@pytest.fixture
def make_member(db) -> MemberFactory:
    counter = {"n": 0}

    def make(
        tenant_slug: str = "acme",
        role: str = "analyst",
        tier: str = "pro",
        email: str | None = None,
    ) -> Member:
        counter["n"] += 1
        tenant, _ = tenant_create(slug=tenant_slug, tier_slug=tier)
        email = email or f"{role}{counter['n']}@{tenant_slug}.example"
        user, membership, _ = user_create_in_tenant(
            tenant=tenant, email=email, role=role, password="correct horse battery staple"
        )
        issued = api_key_issue(tenant=tenant, user=user, name="test")
        return Member(tenant=tenant, user=user, membership=membership, raw_key=issued.raw_key)

    return make


@pytest.fixture
def analyst(make_member: MemberFactory) -> Member:
    return make_member("acme", "analyst")


@pytest.fixture
def other_tenant_analyst(make_member: MemberFactory) -> Member:
    return make_member("globex", "analyst")


@pytest.fixture(autouse=True)
def _fresh_circuit_breakers():
    """Circuit breakers are process-wide; each test starts with every provider closed, and the
    breaker gauge says so (a stale "open" would fire ProviderOutage in the alert drill)."""
    from agents.providers.breakers import BREAKERS
    from monitoring import metrics

    BREAKERS.reset()
    metrics.CIRCUIT_STATE.clear()
    yield
    BREAKERS.reset()
    metrics.CIRCUIT_STATE.clear()
