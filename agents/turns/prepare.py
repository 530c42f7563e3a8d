"""The turn's first step: validate the question, read what the turn needs in one thread hop,
resolve the provider chain once, and run the before_agent hooks (tenancy, limits, the hold)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async

from accounts.models import Membership, Tenant, User
from accounts.selectors import tenant_quota_get
from agents.contracts import ChatMessage
from agents.engines.condense import looks_like_follow_up
from agents.models import Conversation, Message
from agents.pipeline import Pipeline
from agents.providers.chains import ResolvedChain, chain_resolve, provider_settings_from_django
from agents.selectors import conversation_get
from agents.services import conversation_create
from agents.turns.turn import Turn
from retrieval.selectors import corpus_version_get, question_validate

HISTORY_TURNS = 4


@dataclass
class PreparedTurn:
    """A turn that passed validation and the before_agent hooks, ready to stream."""

    turn: Turn
    pipeline: Pipeline
    conversation: Conversation
    question: str
    history: list[ChatMessage]
    previous_questions: list[str]


def _history(conversation: Conversation) -> tuple[list[ChatMessage], list[str]]:
    messages = list(
        Message.objects.filter(conversation=conversation)
        .exclude(status=Message.Status.ERROR)
        .order_by("-created_at", "-id")[: HISTORY_TURNS * 2]
    )
    messages.reverse()
    chat = [ChatMessage(role=m.role, content=m.content) for m in messages]  # type: ignore[arg-type]
    questions = [m.standalone_question or m.content for m in messages if m.role == "user"]
    return chat, questions


@dataclass(frozen=True)
class _Reads:
    conversation: Conversation
    tier: str
    chain: ResolvedChain
    history: list[ChatMessage]
    previous_questions: list[str]
    corpus_version: str


def _reads(*, tenant: Tenant, user: User, conversation_id: int) -> _Reads:
    conversation = conversation_get(
        tenant=tenant, user=user, conversation_id=conversation_id, to_ask=True
    )
    tier = tenant_quota_get(tenant=tenant).tier
    history, previous_questions = _history(conversation)
    return _Reads(
        conversation=conversation,
        tier=tier,
        chain=chain_resolve(tier, provider_settings_from_django()),
        history=history,
        previous_questions=previous_questions,
        corpus_version=corpus_version_get(tenant=tenant),
    )


async def turn_prepare(
    *,
    tenant: Tenant,
    user: User,
    membership: Membership,
    conversation_id: int,
    question: str,
) -> PreparedTurn:
    """Validate a question and run the before_agent hooks.

    Raises ValidationFailed for a bad question, NotFound for a conversation that is not the
    caller's, or whatever a before_agent hook raises (budget, rate limit, suspended tenant).
    """
    question = question_validate(question)
    # One thread hop for everything the turn reads before it starts.
    reads = await sync_to_async(_reads)(tenant=tenant, user=user, conversation_id=conversation_id)
    turn = Turn(
        tenant=tenant,
        user=user,
        membership=membership,
        conversation_id=reads.conversation.pk,
        question=question,
        chain=reads.chain,
        tier=reads.tier,
        is_follow_up=looks_like_follow_up(question, reads.previous_questions),
        scope=dict(reads.conversation.scope or {}),
        corpus_version=reads.corpus_version,
    )
    pipeline = Pipeline.from_settings()
    pipeline.bind(turn)
    await pipeline.before_agent(turn)
    return PreparedTurn(
        turn, pipeline, reads.conversation, question, reads.history, reads.previous_questions
    )


async def question_prepare(
    *,
    tenant: Tenant,
    user: User,
    membership: Membership,
    question: str,
    scope: dict[str, Any] | None = None,
) -> PreparedTurn:
    """A first question without a conversation: start one titled after the question (scoped
    as asked), then turn_prepare. A question refused before it starts (bad input, budget, rate
    limit) leaves no conversation behind.

    Raises what conversation_create and turn_prepare raise.
    """
    question = question_validate(question)
    conversation = await sync_to_async(conversation_create)(
        tenant=tenant, user=user, title=question[:120], scope=scope
    )
    try:
        return await turn_prepare(
            tenant=tenant,
            user=user,
            membership=membership,
            conversation_id=conversation.pk,
            question=question,
        )
    except Exception:
        await sync_to_async(conversation.delete)()
        raise
