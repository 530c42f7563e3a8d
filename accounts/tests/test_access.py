"""Roles, suspended tenants, sessions, and effective quotas."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiKey, Tenant
from accounts.selectors import tenant_quota_get
from accounts.services import tenant_set_status

pytestmark = pytest.mark.django_db


def test_viewer_can_read_but_not_write(make_member):
    viewer = make_member("acme", "viewer")
    assert viewer.client().get("/api/v1/me").status_code == 200
    before = ApiKey.objects.count()
    response = viewer.client().post("/api/v1/api-keys", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert ApiKey.objects.count() == before


def test_suspended_tenant_is_refused_with_a_clear_error(analyst):
    tenant_set_status(tenant=analyst.tenant, status=Tenant.Status.SUSPENDED)
    response = analyst.client().get("/api/v1/me")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "tenant_suspended"


def test_session_login_works_for_a_single_tenant_member(analyst):
    client = APIClient()
    assert client.login(email=analyst.user.email, password="correct horse battery staple")
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["email"] == analyst.user.email


def test_member_of_two_tenants_must_choose_one_by_header(make_member):
    first = make_member("acme", "analyst", email="two@x.example")
    make_member("globex", "viewer", email="two@x.example")
    client = APIClient()
    assert client.login(email=first.user.email, password="correct horse battery staple")
    undecided = client.get("/api/v1/me")
    assert undecided.status_code == 403
    assert undecided.json()["error"]["details"]["reason"] == "tenant_not_chosen"
    chosen = client.get("/api/v1/me", HTTP_X_TENANT="globex")
    assert chosen.json()["role"] == "viewer"


def test_unauthenticated_request_gets_401_in_house_format():
    response = APIClient().get("/api/v1/me")
    assert response.status_code in (401, 403)
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_effective_quota_uses_overrides_over_the_tier(analyst):
    tenant = analyst.tenant
    base = tenant_quota_get(tenant=tenant)
    assert base.monthly_budget_usd == tenant.tier.monthly_budget_usd
    tenant.monthly_budget_usd_override = Decimal("12.50")
    tenant.max_documents_override = 7
    tenant.save()
    quota = tenant_quota_get(tenant=tenant)
    assert quota.monthly_budget_usd == Decimal("12.50")
    assert quota.max_documents == 7
    assert quota.requests_per_minute_user == tenant.tier.requests_per_minute_user


def test_unknown_api_path_answers_json_404():
    response = APIClient().get("/api/v1/does-not-exist")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
