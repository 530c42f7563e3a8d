"""Billing REST endpoints: budget status, one question's costs, reports by role, staff scope,
and the usage page."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.models import Membership, Tenant
from billing.services import budget_reserve, ledger_line_record, reservation_settle
from billing.tests.conftest import model_line, record_query

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(make_member):
    owner = make_member("acme", "owner", email="owner@acme.example")
    analyst = make_member("acme", "analyst", email="analyst@acme.example")
    query_id = record_query(
        tenant=analyst.tenant,
        user=analyst.user,
        lines=[model_line(input_tokens=10_000, output_tokens=200)],
    )
    return owner, analyst, query_id


def test_owners_read_their_tenants_reports(acme, make_member):
    owner, _analyst, query_id = acme
    make_member("globex", "owner", email="boss@globex.example")
    client = owner.client()
    users = client.get("/api/v1/billing/reports/users").json()["results"]
    assert [row["email"] for row in users] == ["analyst@acme.example"]
    assert Decimal(users[0]["total_cost_usd"]) == Decimal("0.033")
    providers = client.get("/api/v1/billing/reports/providers?days=7").json()
    assert providers["results"][0]["provider"] == "anthropic"
    expensive = client.get("/api/v1/billing/reports/expensive-queries").json()["results"]
    assert expensive[0]["query_id"] == str(query_id)
    optimisation = client.get("/api/v1/billing/reports/optimisation").json()
    assert optimisation["routing_target"] == "openai/gpt-5.4-mini"
    assert Decimal(optimisation["routing_savings_usd"]) == Decimal("0.0246")


def test_analysts_cannot_read_the_tenants_reports(acme):
    _owner, analyst, _query_id = acme
    response = analyst.client().get("/api/v1/billing/reports/users")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_staff_read_one_tenant_by_slug_or_every_tenant(acme, make_member):
    owner, _analyst, _query_id = acme
    carol = make_member("globex", "owner", email="carol@globex.example")
    record_query(tenant=carol.tenant, user=carol.user, lines=[model_line()])
    owner.user.is_staff = True
    owner.user.save(update_fields=["is_staff"])
    client = owner.client()
    everyone = client.get("/api/v1/billing/reports/users?tenant=all").json()["results"]
    assert {row["tenant"] for row in everyone} == {"acme", "globex"}
    globex = client.get("/api/v1/billing/reports/users?tenant=globex").json()["results"]
    assert [row["email"] for row in globex] == ["carol@globex.example"]
    assert client.get("/api/v1/billing/reports/users?tenant=nope").status_code == 404


def test_a_non_staff_owner_asking_for_all_tenants_still_sees_only_their_own(acme, make_member):
    owner, _analyst, _query_id = acme
    carol = make_member("globex", "owner", email="carol@globex.example")
    record_query(tenant=carol.tenant, user=carol.user, lines=[model_line()])
    body = owner.client().get("/api/v1/billing/reports/users?tenant=all").content.decode()
    assert "carol@globex.example" not in body


def test_report_windows_are_validated(acme):
    owner, _analyst, _query_id = acme
    response = owner.client().get("/api/v1/billing/reports/providers?days=0")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"


def test_the_budget_endpoint_shows_spend_the_warning_and_the_members_cap(make_member):
    analyst = make_member("budget-co", "analyst")
    Tenant.objects.filter(pk=analyst.tenant.pk).update(monthly_budget_usd_override=Decimal("0.03"))
    reservation = budget_reserve(
        tenant=analyst.tenant,
        user=analyst.user,
        query_id=uuid.uuid4(),
        amount_usd=Decimal("0.03"),
        tokens=0,
    )
    ledger_line_record(
        tenant=analyst.tenant,
        user=analyst.user,
        conversation_id=None,
        query_id=reservation.query_id,
        line=model_line(input_tokens=0, output_tokens=1_800),  # $0.027: 90%
    )
    reservation_settle(reservation=reservation)
    Membership.objects.filter(pk=analyst.membership.pk).update(
        monthly_budget_usd_cap=Decimal("1.00")
    )
    body = analyst.client().get("/api/v1/billing/budget").json()
    assert body["tenant"]["warning"] is True
    assert body["tenant"]["exhausted"] is False
    assert Decimal(body["tenant"]["spent_usd"]) == Decimal("0.027")
    assert Decimal(body["tenant"]["used_ratio"]) == Decimal("0.9")
    assert body["tenant"]["resets_at"].endswith("T00:00:00Z")
    assert Decimal(body["user"]["limit_usd"]) == Decimal("1.00")
    assert body["user"]["warning"] is False


def test_the_query_cost_endpoint_lists_every_line_for_the_asker_and_managers(acme, make_member):
    owner, analyst, query_id = acme
    colleague = make_member("acme", "analyst")
    url = f"/api/v1/billing/queries/{query_id}"
    mine = analyst.client().get(url).json()
    assert Decimal(mine["cost_usd"]) == Decimal("0.033")
    assert [line["kind"] for line in mine["lines"]] == ["model", "query"]
    assert owner.client().get(url).status_code == 200
    assert colleague.client().get(url).status_code == 404
    stranger = make_member("globex", "owner")
    assert stranger.client().get(url).status_code == 404


def test_unauthenticated_calls_get_401_in_the_house_format():
    response = APIClient().get("/api/v1/billing/reports/users")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
