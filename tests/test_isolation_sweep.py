"""Every API endpoint, called with another tenant's key, answers 404 and shows nothing."""

from __future__ import annotations

import pytest

from tests.isolation import api_routes, isolation_sweep


@pytest.fixture
def owner_world(make_member):
    """The first tenant's objects, one per kind of endpoint; later apps add theirs here."""
    owner = make_member("owner-co", "owner")
    from accounts.models import ApiKey

    key = ApiKey.objects.filter(tenant=owner.tenant).first()
    from retrieval.services import document_ingest, document_register

    document, _ = document_register(
        tenant=owner.tenant,
        user=owner.user,
        data=b"Zanzibar Holdings sold 42 widgets.",
        filename="zanzibar-secret.txt",
        queue=False,
    )
    document_ingest(document_id=document.pk)
    from agents.services import conversation_create

    conversation = conversation_create(
        tenant=owner.tenant, user=owner.user, title="Zanzibar merger diligence"
    )
    kwargs = {
        "api-key-revoke": {"prefix": key.prefix},
        "document-detail": {"document_id": document.pk},
        "conversation-detail": {"conversation_id": conversation.pk},
        "conversation-messages": {"conversation_id": conversation.pk},
        "conversation-export": {"conversation_id": conversation.pk},
    }
    markers = [owner.user.email, key.prefix, "zanzibar-secret", "Zanzibar"]
    return owner, kwargs, markers


READ_POSTS = {
    "search": {"query": "Zanzibar Holdings widgets"},
    "conversation-messages": {"question": "What did Zanzibar sell?"},
}


@pytest.mark.django_db
def test_second_tenant_sees_nothing_of_the_first_on_any_endpoint(owner_world, make_member):
    _owner, kwargs, markers = owner_world
    intruder = make_member("intruder-co", "owner")
    leaks = isolation_sweep(
        intruder=intruder.client(),
        owner_kwargs=kwargs,
        owner_markers=markers,
        read_posts=READ_POSTS,
    )
    assert leaks == []


@pytest.mark.django_db
def test_sweep_covers_every_api_route():
    names = {route.name for route in api_routes()}
    assert {
        "me",
        "api-key-list",
        "api-key-revoke",
        "document-list",
        "document-detail",
        "search",
    } <= names


@pytest.mark.django_db
def test_owner_still_sees_own_data_so_the_sweep_is_meaningful(owner_world):
    owner, _kwargs, markers = owner_world
    response = owner.client().get("/api/v1/api-keys")
    assert response.status_code == 200
    assert markers[1] in response.content.decode()
