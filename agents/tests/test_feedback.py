"""Feedback on answers: accuracy yes/no and cost efficiency 1-5 per user and answer, kept to the
tenant, and reported by provider to the tenant's managers (and to staff for every tenant)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agents.models import Conversation, Feedback, Message

pytestmark = pytest.mark.django_db


def answer(member, *, provider: str = "openai", owner=None) -> Message:
    """An answered question in a conversation of `owner` (default: the member)."""
    user = (owner or member).user
    conversation = Conversation.objects.create(tenant=member.tenant, user=user, title="Capex")
    Message.objects.create(
        tenant=member.tenant, conversation=conversation, role="user", content="Capex in 2018?"
    )
    return Message.objects.create(
        tenant=member.tenant,
        conversation=conversation,
        role="assistant",
        content="Capital expenditures were $1,577 million [1].",
        provider=provider,
        model=f"{provider}-model",
    )


def rate(member, message_id: int, **body):
    return member.client().post(f"/api/v1/messages/{message_id}/feedback", body, format="json")


def test_an_analyst_rates_an_answer_and_a_second_rating_replaces_the_first(analyst):
    message = answer(analyst)
    first = rate(analyst, message.pk, accuracy=True, cost_efficiency=4, comment="Spot on")
    assert first.status_code == 201, first.content
    assert first.json()["accuracy"] is True
    assert first.json()["cost_efficiency"] == 4
    second = rate(analyst, message.pk, accuracy=False, cost_efficiency=2, comment="Wrong year")
    assert second.status_code == 200
    saved = Feedback.objects.get(message=message)
    assert (saved.accuracy, saved.cost_efficiency, saved.comment) == (False, 2, "Wrong year")
    assert saved.user == analyst.user
    assert saved.tenant == analyst.tenant
    mine = analyst.client().get(f"/api/v1/messages/{message.pk}/feedback")
    assert mine.status_code == 200
    assert mine.json()["comment"] == "Wrong year"


def test_the_comment_is_optional(analyst):
    message = answer(analyst)
    response = rate(analyst, message.pk, accuracy=True, cost_efficiency=5)
    assert response.status_code == 201
    assert response.json()["comment"] == ""


@pytest.mark.parametrize(
    "body",
    [
        {"accuracy": True, "cost_efficiency": 0},
        {"accuracy": True, "cost_efficiency": 6},
        {"accuracy": True},
        {"cost_efficiency": 3},
        {"accuracy": True, "cost_efficiency": 3, "comment": "x" * 2001},
    ],
)
def test_bad_feedback_is_refused_in_the_house_format_and_nothing_is_saved(analyst, body):
    message = answer(analyst)
    response = rate(analyst, message.pk, **body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert not Feedback.objects.exists()


def test_another_tenants_answer_is_not_found(analyst, other_tenant_analyst):
    foreign = answer(other_tenant_analyst)
    response = rate(analyst, foreign.pk, accuracy=True, cost_efficiency=3)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert analyst.client().get(f"/api/v1/messages/{foreign.pk}/feedback").status_code == 404
    assert not Feedback.objects.exists()


def test_questions_and_colleagues_private_answers_cannot_be_rated(analyst, make_member):
    colleague = make_member("acme", "analyst")
    theirs = answer(analyst, owner=colleague)
    question = Message.objects.get(conversation=theirs.conversation, role="user")
    assert rate(analyst, theirs.pk, accuracy=True, cost_efficiency=3).status_code == 404
    assert rate(colleague, question.pk, accuracy=True, cost_efficiency=3).status_code == 404
    assert rate(colleague, theirs.pk, accuracy=True, cost_efficiency=3).status_code == 201


def test_an_admin_may_rate_a_members_answer_alongside_the_member(analyst, make_member):
    admin = make_member("acme", "admin")
    message = answer(analyst)
    assert rate(analyst, message.pk, accuracy=True, cost_efficiency=5).status_code == 201
    assert rate(admin, message.pk, accuracy=False, cost_efficiency=1).status_code == 201
    assert Feedback.objects.filter(message=message).count() == 2


def test_no_feedback_yet_reads_as_not_found(analyst):
    message = answer(analyst)
    response = analyst.client().get(f"/api/v1/messages/{message.pk}/feedback")
    assert response.status_code == 404


def test_the_report_gives_counts_accuracy_and_mean_cost_efficiency_per_provider(make_member):
    owner = make_member("acme", "owner")
    analyst = make_member("acme", "analyst")
    for provider, accuracy, cost in [
        ("openai", True, 4),
        ("openai", False, 3),
        ("anthropic", True, 5),
    ]:
        message = answer(analyst, provider=provider)
        assert rate(analyst, message.pk, accuracy=accuracy, cost_efficiency=cost).status_code == 201
    outsider = make_member("globex", "analyst")
    rate(outsider, answer(outsider).pk, accuracy=False, cost_efficiency=1, comment="meh")

    response = owner.client().get("/api/v1/feedback/report")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["scope"] == "tenant"
    assert body["days"] == 30
    rows = {row["provider"]: row for row in body["rows"]}
    assert set(rows) == {"anthropic", "openai"}
    assert {row["tenant"] for row in body["rows"]} == {"acme"}
    assert rows["openai"]["count"] == 2
    assert rows["openai"]["accurate"] == 1
    assert Decimal(rows["openai"]["accuracy_rate"]) == Decimal("0.5")
    assert Decimal(rows["openai"]["mean_cost_efficiency"]) == Decimal("3.5")
    assert Decimal(rows["anthropic"]["accuracy_rate"]) == Decimal("1")


def test_only_managers_read_the_report_and_only_staff_see_every_tenant(make_member):
    analyst = make_member("acme", "analyst")
    owner = make_member("acme", "owner")
    rate(analyst, answer(analyst).pk, accuracy=True, cost_efficiency=4)
    outsider = make_member("globex", "analyst")
    rate(outsider, answer(outsider).pk, accuracy=False, cost_efficiency=2)

    denied = analyst.client().get("/api/v1/feedback/report")
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "permission_denied"
    assert owner.client().get("/api/v1/feedback/report?scope=all").status_code == 403
    assert owner.client().get("/api/v1/feedback/report?days=0").status_code == 400

    owner.user.is_staff = True
    owner.user.save(update_fields=["is_staff"])
    everyone = owner.client().get("/api/v1/feedback/report?scope=all").json()
    assert everyone["scope"] == "all"
    assert {row["tenant"] for row in everyone["rows"]} == {"acme", "globex"}


def test_staff_read_conversations_with_their_messages_and_feedback_in_admin(analyst):
    from django.contrib.auth import get_user_model
    from django.test import Client

    message = answer(analyst)
    rate(analyst, message.pk, accuracy=False, cost_efficiency=2, comment="Wrong fiscal year")
    staff = get_user_model().objects.create_superuser(email="ops@example.com", password="x" * 12)
    client = Client()
    client.force_login(staff)
    conversation = client.get(f"/admin/agents/conversation/{message.conversation_id}/change/")
    assert conversation.status_code == 200
    assert "Capital expenditures were $1,577 million" in conversation.content.decode()
    feedback = client.get("/admin/agents/feedback/")
    assert feedback.status_code == 200
    assert "Wrong fiscal year" in feedback.content.decode()
    assert client.get("/admin/agents/feedback/add/").status_code == 403
