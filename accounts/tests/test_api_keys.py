"""API keys: shown once, stored as prefix plus salted hash, revocable, expiring, tracked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services import api_key_issue, api_key_revoke

pytestmark = pytest.mark.django_db


def test_raw_key_is_never_stored_in_the_database(analyst):
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apikey")
        rows = cursor.fetchall()
    dump = repr(rows)
    secret = analyst.raw_key.split(".", 1)[1]
    assert rows
    assert secret not in dump
    assert analyst.raw_key not in dump


def test_stored_hash_is_salted_so_equal_keys_would_hash_differently(analyst):
    key = ApiKey.objects.get(tenant=analyst.tenant)
    hasher = ApiKey.objects.key_generator.preferred_hasher
    assert key.hashed_key.startswith("salted_sha256$")
    assert hasher.encode(analyst.raw_key) != hasher.encode(analyst.raw_key)
    assert hasher.verify(analyst.raw_key, key.hashed_key)
    assert not hasher.verify(analyst.raw_key + "x", key.hashed_key)


def test_key_authenticates_and_records_last_use(analyst):
    response = analyst.client().get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["tenant"] == "acme"
    assert ApiKey.objects.get(tenant=analyst.tenant).last_used_at is not None


def test_issued_key_is_returned_once_by_the_api_and_listed_without_it(analyst):
    created = analyst.session_client().post("/api/v1/api-keys", {"name": "ci"}, format="json")
    assert created.status_code == 201
    raw = created.json()["key"]
    assert raw.startswith(created.json()["prefix"] + ".")
    listing = analyst.client().get("/api/v1/api-keys").content.decode()
    assert raw not in listing
    assert created.json()["prefix"] in listing


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Bearer nonsense", "malformed"),
        ("Bearer abcdefgh.wrongsecret", "invalid"),
        ("Bearer ", None),
    ],
)
def test_bad_bearer_tokens_are_rejected_in_the_house_format(analyst, header, reason):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "not_authenticated"
    if reason:
        assert error["details"]["reason"] == reason


def test_revoked_key_is_rejected_and_nothing_changes(analyst):
    key = ApiKey.objects.get(tenant=analyst.tenant)
    api_key_revoke(tenant=analyst.tenant, api_key=key)
    before = ApiKey.objects.count()
    response = analyst.client().post("/api/v1/api-keys", {"name": "sneaky"}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["details"]["reason"] == "revoked"
    assert ApiKey.objects.count() == before


def test_expired_key_is_rejected(analyst):
    ApiKey.objects.filter(tenant=analyst.tenant).update(
        expiry_date=timezone.now() - timedelta(minutes=1)
    )
    response = analyst.client().get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["details"]["reason"] == "expired"


def test_key_cannot_be_issued_with_an_expiry_in_the_past(analyst):
    response = analyst.session_client().post(
        "/api/v1/api-keys",
        {"name": "old", "expires_at": (timezone.now() - timedelta(days=1)).isoformat()},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"


def test_revoke_endpoint_revokes_and_a_second_revoke_is_harmless(analyst):
    issued = api_key_issue(tenant=analyst.tenant, user=analyst.user, name="temp")
    path = f"/api/v1/api-keys/{issued.api_key.prefix}/revoke"
    assert analyst.client().post(path).status_code == 200
    assert analyst.client().post(path).status_code == 200
    issued.api_key.refresh_from_db()
    assert issued.api_key.revoked
    assert issued.api_key.revoked_at is not None
