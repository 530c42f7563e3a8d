"""Every API endpoint, called with another tenant's key, answers 404 and shows nothing."""

from __future__ import annotations

import uuid

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
    from billing.contracts import UsageLine
    from billing.services import ledger_line_record, query_summary_record

    query_id = uuid.uuid4()
    ledger_line_record(
        tenant=owner.tenant,
        user=owner.user,
        conversation_id=conversation.pk,
        query_id=query_id,
        line=UsageLine(
            kind="model",
            provider="anthropic",
            model="claude-sonnet-5-5",
            input_tokens=1000,
            output_tokens=100,
        ),
    )
    query_summary_record(
        tenant=owner.tenant,
        user=owner.user,
        conversation_id=conversation.pk,
        query_id=query_id,
        status="ok",
        latency_ms=1234,
        providers_tried=["anthropic"],
    )
    from agents.models import Feedback, Message

    answer = Message.objects.create(
        tenant=owner.tenant,
        conversation=conversation,
        role="assistant",
        content="Zanzibar Holdings sold 42 widgets [1].",
        provider="anthropic",
    )
    Feedback.objects.create(
        tenant=owner.tenant,
        message=answer,
        user=owner.user,
        accuracy=True,
        cost_efficiency=5,
        comment="Zanzibar figures check out",
    )
    kwargs = {
        "message-feedback": {"message_id": answer.pk},
        "billing-query-cost": {"query_id": query_id},
        "api-key-revoke": {"prefix": key.prefix},
        "document-detail": {"document_id": document.pk},
        "document-original-file": {"document_id": document.pk},
        "conversation-detail": {"conversation_id": conversation.pk},
        "conversation-messages": {"conversation_id": conversation.pk},
        "conversation-export": {"conversation_id": conversation.pk},
    }
    markers = [owner.user.email, key.prefix, "zanzibar-secret", "Zanzibar", str(query_id)]
    return owner, kwargs, markers


READ_POSTS = {
    "search": {"query": "Zanzibar Holdings widgets"},
    "conversation-messages": {"question": "What did Zanzibar sell?"},
    "message-feedback": {"accuracy": False, "cost_efficiency": 1},
    # A first question answered in the intruder's own new conversation must find nothing of
    # the owner's (the question itself avoids the markers, which the answer would echo).
    "questions": {"question": "Which holding company sold widgets, and how many?"},
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
        "document-original-file",
        "questions",
        "search",
        "billing-budget",
        "billing-query-cost",
        "billing-report-users",
        "billing-report-providers",
        "billing-report-expensive-queries",
        "billing-report-optimisation",
        "message-feedback",
        "feedback-report",
    } <= names


@pytest.mark.django_db
def test_owner_still_sees_own_data_so_the_sweep_is_meaningful(owner_world):
    owner, _kwargs, markers = owner_world
    response = owner.client().get("/api/v1/api-keys")
    assert response.status_code == 200
    assert markers[1] in response.content.decode()
