"""The turn's last step: the answer saved as a message with its checkpoint, on every path
(complete, interrupted or failed); its cost and tokens are the ledger's totals."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.db import transaction

from agents.models import Checkpoint, Conversation, Message
from agents.outage_retry import through_outage
from agents.turns.turn import Turn
from billing.services.ledger import query_answer_totals

MESSAGE_STATUS = {"ok": Message.Status.COMPLETE, "interrupted": Message.Status.INTERRUPTED}


@dataclass
class TurnRecord:
    """What the turn produced for the conversation, filled in as it streams."""

    conversation: Conversation
    user_message: Message | None = None
    # A cache hit's question, saved with its answer in turn_save's one transaction rather than
    # in a commit of its own before it (a hit calls no model, so its turn is short).
    question_unsaved: str | None = None
    parts: list[str] = field(default_factory=list)  # the answer's text as the user saw it
    status: str = "interrupted"
    scope: dict[str, Any] | None = None
    chunk_ids: tuple[int, ...] = ()
    citations: tuple[dict[str, Any], ...] = ()

    @property
    def answer(self) -> str:
        return "".join(self.parts)


def _checkpoint_state(
    turn: Turn, record: TurnRecord, question: Message, message: Message
) -> dict[str, Any]:
    state = {
        "question": question.content,
        "standalone_question": question.standalone_question,
        "answer": record.answer,
        "status": message.status,
        "retrieved_chunk_ids": list(record.chunk_ids),
        "tool_results": [
            {"name": t.name, "arguments": t.arguments, "output": t.output, "error": t.error}
            for t in turn.tool_results
        ],
        "provider": message.provider,
        "model": message.model,
        "attempts": [
            {
                "provider": a.provider,
                "model": a.model,
                "outcome": a.outcome,
                "latency_ms": a.latency_ms,
                "error": a.error,
            }
            for a in turn.attempts
        ],
        "chain": turn.chain_names,
        "pii_placeholders": sorted(turn.pii_mapping),
        "verification": turn.verification,
    }
    return json.loads(json.dumps(state, default=str))


def _question_message(turn: Turn, record: TurnRecord) -> Message:
    """The (unsaved) user's message of a turn whose question was kept for the final save."""
    return Message(
        tenant=turn.tenant,
        conversation=record.conversation,
        query_id=turn.query_id,
        role=Message.Role.USER,
        content=record.question_unsaved or "",
    )


def turn_save(*, turn: Turn, record: TurnRecord, question: Message | None) -> Message:
    """The assistant's message answering `question` and its checkpoint, in one transaction;
    every call of the turn is on the ledger by now (each row is written when its call ends; a
    cache replay's row, free, comes with the query's summary), so the message shows the
    ledger's totals. With `question` None, the question kept in `record.question_unsaved` is
    saved with the answer, in the same INSERT."""
    conversation = record.conversation
    answering = turn.answering_attempt
    totals = query_answer_totals(tenant=conversation.tenant, query_id=turn.query_id)
    with transaction.atomic():
        message = Message(
            tenant=conversation.tenant,
            conversation=conversation,
            query_id=turn.query_id,
            role=Message.Role.ASSISTANT,
            content=record.answer,
            citations=list(record.citations),
            scope=record.scope or {},
            provider=answering.provider if answering else "",
            model=answering.model if answering else "",
            input_tokens=totals.input_tokens,
            output_tokens=totals.output_tokens,
            cost_usd=totals.cost_usd,
            latency_ms=turn.latency_ms,
            status=MESSAGE_STATUS.get(record.status, Message.Status.ERROR),
            error_code=turn.error_code,
        )
        if question is None:
            # One statement; the question's row comes first, as its id and time order it.
            question = _question_message(turn, record)
            Message.objects.bulk_create([question, message])
        else:
            message.save(force_insert=True)
        Checkpoint.objects.create(
            tenant=conversation.tenant,
            conversation=conversation,
            message=message,
            state=_checkpoint_state(turn, record, question, message),
        )
        if not conversation.title:
            conversation.title = question.content[:120]
        conversation.save(update_fields=["title", "updated_at"])
    # Set once committed: a retried save (through_outage) saves the kept question again.
    record.user_message = question
    turn.message_id = message.pk
    return message


async def turn_save_shielded(
    *, turn: Turn, record: TurnRecord, question: Message | None
) -> Message:
    """turn_save from a stream that may be cancelled: the save itself is never cut short."""
    save = through_outage(turn_save)  # a short database outage delays the save, not loses it
    return await asyncio.shield(sync_to_async(save)(turn=turn, record=record, question=question))
