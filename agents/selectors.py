"""Reads for agents: conversations and their messages, always scoped by tenant and user."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.errors import NotFound, PermissionDenied
from accounts.models import Membership, Tenant, User
from agents.models import Conversation, Message


def conversation_list(*, tenant: Tenant, user: User) -> QuerySet[Conversation]:
    return Conversation.objects.filter(tenant=tenant, user=user).order_by("-updated_at")


def conversation_get(
    *, tenant: Tenant, user: User, conversation_id: int, to_ask: bool = False
) -> Conversation:
    """A conversation of this user in this tenant (managers may read every member's);
    NotFound otherwise, the same as a missing one. `to_ask`: only its own user may add a
    question (a manager reading a member's conversation gets PermissionDenied)."""
    # One query for the common case, the caller's own conversation; the manager check only
    # when it is someone else's.
    conversation = (
        Conversation.objects.select_related("tenant")
        .filter(tenant=tenant, pk=conversation_id)
        .first()
    )
    if conversation is None:
        raise NotFound("Conversation not found.")
    if conversation.user_id == user.pk:
        return conversation
    manager = Membership.objects.filter(
        tenant=tenant, user=user, role__in=(Membership.Role.OWNER, Membership.Role.ADMIN)
    ).exists()
    if not manager:
        raise NotFound("Conversation not found.")
    if to_ask:
        raise PermissionDenied(
            "Only the member who started this conversation can ask in it.",
            details={"reason": "not_conversation_owner"},
        )
    return conversation


def message_list(*, tenant: Tenant, conversation: Conversation) -> QuerySet[Message]:
    return Message.objects.filter(tenant=tenant, conversation=conversation).order_by(
        "created_at", "id"
    )


def message_checkpoint_state(message: Message, key: str) -> list[dict[str, Any]]:
    """One list the answer's checkpoint kept ("tool_results", "attempts"); empty without one.
    Select the messages with select_related("checkpoint") to read it without a query each."""
    checkpoint = getattr(message, "checkpoint", None)
    return list((checkpoint.state or {}).get(key, [])) if checkpoint else []
