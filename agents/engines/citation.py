"""The citation engine: numbered sources in, an answer citing `[n]` out, citations as data.

Built on LlamaIndex's citation prompt over passages made straight from retrieval's
RetrievedChunk; the model call itself goes through the agents pipeline (hooks, failover), so
every provider streams the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from llama_index.core.query_engine.citation_query_engine import CITATION_QA_TEMPLATE

from agents.contracts import ChatMessage, ContextPassage, ModelRequest, ToolDefinition
from retrieval.contracts import RetrievedChunk

SYSTEM_PROMPT = (
    "You are a careful financial analyst's assistant. You answer questions about SEC filings and "
    "earnings material using only the numbered sources you are given. Cite every figure and "
    "claim with the source number in square brackets, like [2]. Quote figures exactly as the "
    "source gives them, with units and periods. If the sources do not contain the answer, say "
    "so plainly instead of guessing. Personal data may appear as placeholders like <EMAIL_1>: "
    "keep them unchanged."
)
TOOLS_INSTRUCTION = (
    " For any arithmetic (growth rates, changes, margins, CAGR, ratios such as P/E, per-share "
    "figures, sums and averages) call the calculator tools with the figures as the sources give "
    "them instead of computing in your head, then report the tool's result and cite the sources "
    "of its inputs."
)
_CITATION = re.compile(r"\[(\d{1,2})\]")


@dataclass(frozen=True)
class Citation:
    number: int
    chunk_id: int | None
    document_id: int | None
    document: str
    source: str
    page: int | None
    snippet: str

    def as_dict(self) -> dict[str, object]:
        return {
            "number": self.number,
            "chunk_id": self.chunk_id,
            "document_id": self.document_id,
            "document": self.document,
            "source": self.source,
            "page": self.page,
            "text": self.snippet,
        }


SOURCES_SEPARATOR = "\n\n"


def render_source(passage: ContextPassage) -> str:
    """One passage as the prompt shows it: a numbered header, which an answer cites as [n]."""
    return f"Source {passage.number} ({passage.document}, page {passage.page}):\n{passage.text}"


def render_sources(passages: tuple[ContextPassage, ...]) -> str:
    return SOURCES_SEPARATOR.join(render_source(p) for p in passages)


def answer_system_prompt(*, tools: bool) -> str:
    return SYSTEM_PROMPT + (TOOLS_INSTRUCTION if tools else "")


def passages_from_chunks(chunks: Sequence[RetrievedChunk]) -> tuple[ContextPassage, ...]:
    """Retrieved chunks as the numbered passages the model sees, in rank order."""
    return tuple(
        ContextPassage(
            number=number,
            text=chunk.text,
            document=chunk.document_title,
            page=chunk.page,
            source=chunk.source,
            chunk_id=chunk.chunk_id,
            document_id=chunk.document_id,
        )
        for number, chunk in enumerate(chunks, start=1)
    )


def passages_from_dicts(rows: tuple[dict[str, Any], ...]) -> tuple[ContextPassage, ...]:
    """Passages kept as plain dicts (the answer cache), ignoring fields this code does not know."""
    known = {f.name for f in fields(ContextPassage)}
    return tuple(ContextPassage(**{k: v for k, v in row.items() if k in known}) for row in rows)


def build_request(
    *,
    question: str,
    passages: tuple[ContextPassage, ...],
    history: tuple[ChatMessage, ...],
    max_tokens: int,
    tools: tuple[ToolDefinition, ...] = (),
) -> ModelRequest:
    prompt = CITATION_QA_TEMPLATE.format(context_str=render_sources(passages), query_str=question)
    return ModelRequest(
        system=answer_system_prompt(tools=bool(tools)),
        messages=(*history, ChatMessage(role="user", content=prompt)),
        question=question,
        passages=passages,
        max_tokens=max_tokens,
        tools=tools,
    )


def cited_numbers(text: str) -> list[int]:
    seen: list[int] = []
    for match in _CITATION.finditer(text):
        number = int(match.group(1))
        if number not in seen:
            seen.append(number)
    return seen


def citations_for(answer: str, passages: tuple[ContextPassage, ...]) -> list[Citation]:
    """The passages the answer cites, in order of first citation; unknown numbers are ignored."""
    by_number = {p.number: p for p in passages}
    citations = []
    for number in cited_numbers(answer):
        passage = by_number.get(number)
        if passage is None:
            continue
        citations.append(
            Citation(
                number=number,
                chunk_id=passage.chunk_id,
                document_id=passage.document_id,
                document=passage.document,
                source=passage.source,
                page=passage.page,
                snippet=passage.text,
            )
        )
    return citations
