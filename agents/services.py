"""Writes for agents' conversations: start one, export one. Answering a question is the turn
(agents.turns)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from accounts.errors import ValidationFailed
from accounts.models import Tenant, User
from agents.models import Conversation
from agents.selectors import message_checkpoint_state


def conversation_create(
    *, tenant: Tenant, user: User, title: str = "", scope: dict[str, Any] | None = None
) -> Conversation:
    """Start a conversation, optionally scoped to companies, document types and fiscal years."""
    scope = scope or {}
    allowed = {"tickers", "company_ids", "doc_types", "fiscal_years", "fiscal_periods"}
    unknown = set(scope) - allowed
    if unknown:
        raise ValidationFailed(
            f"Unknown scope keys: {', '.join(sorted(unknown))}.",
            details={"allowed": sorted(allowed)},
        )
    return Conversation.objects.create(tenant=tenant, user=user, title=title[:200], scope=scope)


FIGURE_VERDICT_LABELS = {
    "supported": "found in {source}",
    "calculated": "calculated: `{source}`",
    "unsupported": "**not found in the cited sources**",
}


def _figure_line(figure: dict[str, Any]) -> str:
    label = FIGURE_VERDICT_LABELS.get(figure.get("verdict", ""), "{verdict}")
    return f"- {figure.get('text', '')}: " + label.format(**{"source": "", **figure})


def conversation_export(*, conversation: Conversation, fmt: str) -> str:
    """The conversation as JSON or Markdown (with citations)."""
    messages = list(conversation.messages.select_related("checkpoint").order_by("created_at", "id"))
    tools = {m.pk: message_checkpoint_state(m, "tool_results") for m in messages}
    figures = {m.pk: message_checkpoint_state(m, "verification") for m in messages}
    if fmt == "json":
        return json.dumps(
            {
                "id": conversation.pk,
                "title": conversation.title,
                "scope": conversation.scope,
                "created_at": conversation.created_at.isoformat(),
                "messages": [
                    {
                        "role": m.role,
                        "content": m.content,
                        "citations": m.citations,
                        "tools": tools[m.pk],
                        "verification": figures[m.pk],
                        "provider": m.provider,
                        "model": m.model,
                        "input_tokens": m.input_tokens,
                        "output_tokens": m.output_tokens,
                        "cost_usd": str(m.cost_usd),
                        "status": m.status,
                        "created_at": m.created_at.isoformat(),
                    }
                    for m in messages
                ],
            },
            indent=2,
        )
    if fmt != "markdown":
        raise ValidationFailed("Export format must be json or markdown.")
    lines = [f"# {conversation.title or 'Conversation'}", ""]
    for m in messages:
        who = "Question" if m.role == "user" else "Answer"
        lines += [f"## {who}", "", m.content, ""]
        for c in m.citations:
            lines.append(f"- [{c['number']}] {c['document']}, page {c['page']}")
        if m.citations:
            lines.append("")
        if tools[m.pk]:
            lines += ["Calculations:", ""]
            lines += [f"- `{t['output']}`" for t in tools[m.pk]]
            lines.append("")
        if figures[m.pk]:
            lines += ["Figures checked against the sources:", ""]
            lines += [_figure_line(f) for f in figures[m.pk]]
            lines.append("")
    lines.append(f"_Exported {date.today().isoformat()}_")  # noqa: DTZ011 - a calendar label
    return "\n".join(lines)
