"""Item 12 (sec1's part): a key cannot mint keys; sign-in, search and uploads are throttled;
search is billed; /ready keeps failure causes to the log; the ledger refuses TRUNCATE."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection, transaction
from django.test import Client, override_settings

from accounts.models import ApiKey, Tenant
from billing.models import LedgerEntry

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def test_an_api_key_cannot_mint_another_key(analyst):
    before = ApiKey.objects.count()
    response = analyst.client().post("/api/v1/api-keys", {"name": "child"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["details"]["reason"] == "key_cannot_issue_keys"
    assert ApiKey.objects.count() == before


def test_a_signed_in_session_still_issues_keys(analyst):
    client = Client()
    client.force_login(analyst.user)
    response = client.post("/api/v1/api-keys", {"name": "laptop"}, content_type="application/json")
    assert response.status_code == 201


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=3)
def test_sign_in_is_refused_after_repeated_failures_even_with_the_right_password(analyst):
    client = Client()
    for _ in range(3):
        failed = client.post("/login/", {"username": analyst.user.email, "password": "wrong"})
        assert failed.status_code in (200, 429)
    locked = client.post("/login/", {"username": analyst.user.email, "password": PASSWORD})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def slow_tenant(member, per_minute: int = 2) -> None:
    Tenant.objects.filter(pk=member.tenant.pk).update(
        requests_per_minute_user_override=per_minute,
        requests_per_minute_tenant_override=per_minute,
    )


def test_search_counts_against_the_tenants_rate_limit(analyst):
    slow_tenant(analyst)
    client = analyst.client()
    answers = [
        client.post("/api/v1/search", {"query": "net sales 2018"}, format="json") for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[-1]["Retry-After"]) >= 1
    assert answers[-1].json()["error"]["code"] == "rate_limited"


def test_a_search_puts_its_query_embedding_on_the_ledger(analyst):
    response = analyst.client().post(
        "/api/v1/search", {"query": "Glueworks net sales 2018"}, format="json"
    )
    assert response.status_code == 200
    [entry] = LedgerEntry.objects.filter(tenant=analyst.tenant)
    assert entry.kind == "embedding"
    assert entry.input_tokens > 0
    assert entry.user_id == analyst.user.pk


def test_uploads_and_re_uploads_count_against_the_rate_limit(analyst):
    slow_tenant(analyst)
    client = analyst.client()
    statuses = []
    for _ in range(3):
        upload = SimpleUploadedFile("same.txt", b"Glueworks net sales were $1 million.")
        statuses.append(client.post("/api/v1/documents", {"files": [upload]}).status_code)
    assert statuses == [202, 202, 429]


def test_ready_says_a_check_failed_without_saying_where_or_why():
    with override_settings(REDIS_URL="redis://leaky-user:secret@127.0.0.1:1/0"):
        response = Client().get("/ready")
    assert response.status_code == 503
    body = response.content.decode()
    assert response.json()["checks"]["redis"] == {
        "ok": False,
        "detail": "unavailable",
        "latency_ms": response.json()["checks"]["redis"]["latency_ms"],
    }
    for secret in ("127.0.0.1", "leaky-user", "secret", "refused", "Error"):
        assert secret not in body


def truncate_ledger_as_production_would() -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL finrag.ledger_truncate = 'deny'")
        cursor.execute("TRUNCATE billing_ledgerentry")


@pytest.mark.django_db(transaction=True)
def test_the_ledger_refuses_truncate(analyst):
    analyst.client().post("/api/v1/search", {"query": "net sales"}, format="json")
    with pytest.raises(DatabaseError, match="append-only"):
        truncate_ledger_as_production_would()
    assert LedgerEntry.objects.filter(tenant=analyst.tenant).exists()


def test_a_search_is_refused_like_a_question_once_the_budget_is_used_up(analyst):
    from decimal import Decimal

    from billing.services import QueryTotals, budget_reserve, reservation_settle
    from billing.tests.test_budgets import set_budget

    set_budget(analyst.tenant, "1")
    client = analyst.client()
    first = client.post("/api/v1/search", {"query": "Glueworks net sales"}, format="json")
    assert first.status_code == 200
    # A question that cost $1.50 of the $1 budget (its hold was $0.40).
    hold = budget_reserve(
        tenant=analyst.tenant,
        user=analyst.user,
        query_id=uuid.uuid4(),
        amount_usd=Decimal("0.4"),
        tokens=100,
    )
    spent = QueryTotals(
        cost_usd=Decimal("1.5"),
        tokens=100,
        input_tokens=100,
        output_tokens=0,
        cached_input_tokens=0,
        cost_saved_usd=Decimal(0),
        cache_hit=False,
    )
    reservation_settle(reservation=hold, totals=spent)
    entries = LedgerEntry.objects.filter(tenant=analyst.tenant).count()

    refused = client.post("/api/v1/search", {"query": "Glueworks net sales"}, format="json")
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "budget_exhausted"
    assert error["details"]["resets_at"]
    assert LedgerEntry.objects.filter(tenant=analyst.tenant).count() == entries  # not billed
    asked = analyst.client().post("/api/v1/conversations", {}, format="json").json()["id"]
    question = client.post(
        f"/api/v1/conversations/{asked}/messages", {"question": "Net sales?"}, format="json"
    )
    assert question.json()["error"]["code"] == error["code"]  # the same refusal as a question
