"""Chat pages: the conversation list, a new scoped conversation, and the streaming chat page."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.errors import ApplicationError, NotFound
from accounts.models import Membership, Tenant, User
from accounts.views import page, workspace_required
from agents import selectors, services
from agents.models import Conversation, Feedback, Message
from agents.verification import VERDICTS
from retrieval.models import FISCAL_PERIODS, Document
from retrieval.selectors import company_directory, visible_documents

CITATION_MARKER = re.compile(r"\[(\d{1,2})\]")

# What the reader is told for each error code: the server's own sentence where it is specific
# (`{message}`), and what to do next. The chat script fills in the same templates for errors
# that arrive over the websocket.
ERROR_GUIDANCE: dict[str, str] = {
    "budget_exhausted": (
        "{message} New questions are paused until then; an owner or admin can raise the budget."
    ),
    "rate_limited": (
        "You have asked more questions in the last minute than your plan allows. "
        "Wait {retry_after} seconds, then ask again."
    ),
    "concurrency_limited": (
        "You already have as many answers streaming as your plan allows. "
        "Wait for one to finish, or stop it, then ask again."
    ),
    "provider_unavailable": (
        "No language model is reachable right now. Try again in a minute; "
        "if it keeps happening, tell your administrator."
    ),
    "provider_error": "The language model failed before answering. Ask again.",
    "provider_failed_midstream": (
        "The language model stopped partway, so the answer is incomplete. Ask again for a full one."
    ),
    "rate_limiter_unavailable": "Usage limits cannot be checked right now. Try again shortly.",
    "pii_blocked": (
        "The question contains personal data, which this workspace does not send to a language "
        "model. Remove names, email addresses or account numbers and ask again."
    ),
    "tenant_suspended": "This workspace is suspended. Contact your administrator.",
    "not_authenticated": "Your session has ended. Sign in again to continue.",
    "permission_denied": "Your role in this workspace can read answers but not ask questions.",
    "not_found": "This conversation no longer exists. Start a new one.",
    "invalid_input": "The question could not be sent: {message}",
    "turn_in_progress": "An answer is still streaming. Wait for it or press Stop first.",
    "connection_lost": "The connection to the server dropped. Reconnecting...",
}
DEFAULT_GUIDANCE = "{message} Try again; if it keeps happening, tell your administrator."


def guidance_for(code: str, message: str = "", details: dict[str, Any] | None = None) -> str:
    """The plain sentence shown for an error code, with its details filled in."""
    template = ERROR_GUIDANCE.get(code, DEFAULT_GUIDANCE)
    values = {"message": message, "retry_after": "a few", **(details or {})}
    try:
        return template.format(**values).strip()
    except (KeyError, IndexError, ValueError):
        return template


class ConversationScopeForm(forms.Form):
    """A new conversation: its first question (which titles it) and, optionally, the
    companies, types and years it covers."""

    question = forms.CharField(
        max_length=settings.QUESTION_MAX_CHARS,
        required=False,
        label="Ask a question",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    title = forms.CharField(max_length=200, required=False, label="Title (optional)")
    company_ids = forms.TypedMultipleChoiceField(
        coerce=int, required=False, label="Companies", widget=forms.CheckboxSelectMultiple
    )
    doc_types = forms.MultipleChoiceField(
        choices=Document.DocType.choices,
        required=False,
        label="Document types",
        widget=forms.CheckboxSelectMultiple,
    )
    fiscal_years = forms.TypedMultipleChoiceField(
        coerce=int, required=False, label="Fiscal years", widget=forms.CheckboxSelectMultiple
    )
    fiscal_periods = forms.MultipleChoiceField(
        choices=[(p, p) for p in FISCAL_PERIODS],
        required=False,
        label="Fiscal periods",
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any):
        super().__init__(*args, **kwargs)
        companies = sorted(company_directory(tenant=tenant), key=lambda c: c.name.lower())
        self.fields["company_ids"].choices = [  # type: ignore[attr-defined]
            (c.id, f"{c.name} ({c.ticker})" if c.ticker else c.name) for c in companies
        ]
        years = (
            visible_documents(tenant=tenant)
            .exclude(fiscal_year=None)
            .values_list("fiscal_year", flat=True)
            .distinct()
            .order_by("-fiscal_year")
        )
        self.fields["fiscal_years"].choices = [(y, str(y)) for y in years]  # type: ignore[attr-defined]

    def scope(self) -> dict[str, list[Any]]:
        keys = ("company_ids", "doc_types", "fiscal_years", "fiscal_periods")
        return {key: list(self.cleaned_data[key]) for key in keys if self.cleaned_data.get(key)}


@dataclass(frozen=True)
class AnswerPart:
    """A run of answer text, or a citation marker (number set) that links to its source."""

    text: str
    number: int | None = None


@dataclass
class Turn:
    question: Message | None
    answer: Message | None
    parts: list[AnswerPart] = field(default_factory=list)
    failovers: list[dict[str, str]] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    guidance: str = ""
    feedback: Feedback | None = None

    figures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def cites_id(self) -> str:
        return f"cites-{self.answer.pk}" if self.answer else ""

    @property
    def figures_id(self) -> str:
        return f"figures-{self.answer.pk}" if self.answer else ""

    @property
    def unsupported_figures(self) -> int:
        return sum(1 for f in self.figures if f.get("verdict") == "unsupported")

    @property
    def figure_summary(self) -> str:
        """The line under an answer, worded as the chat script words it for a streamed one."""
        counts: dict[str, int] = dict.fromkeys(VERDICTS, 0)
        for figure in self.figures:
            verdict = figure.get("verdict", "unsupported")
            counts[verdict] = counts.get(verdict, 0) + 1
        parts = [
            f"{counts[verdict]} {words}"
            for verdict, words in (
                ("supported", "found in the sources"),
                ("calculated", "calculated"),
                ("unsupported", "not found in the cited sources"),
            )
            if counts[verdict]
        ]
        noun = "figure" if len(self.figures) == 1 else "figures"
        return f"{len(self.figures)} {noun} checked: {', '.join(parts)}."


def answer_parts(content: str, citations: list[dict[str, Any]]) -> list[AnswerPart]:
    """Split an answer into text and the `[n]` markers that have a citation behind them."""
    known = {int(c["number"]) for c in citations if c.get("number") is not None}
    parts: list[AnswerPart] = []
    position = 0
    for match in CITATION_MARKER.finditer(content):
        number = int(match.group(1))
        if number not in known:
            continue
        if match.start() > position:
            parts.append(AnswerPart(content[position : match.start()]))
        parts.append(AnswerPart(match.group(0), number))
        position = match.end()
    if position < len(content):
        parts.append(AnswerPart(content[position:]))
    return parts


def _failovers(message: Message) -> list[dict[str, str]]:
    attempts = selectors.message_checkpoint_state(message, "attempts")
    return [
        {"provider": a.get("provider", ""), "outcome": a.get("outcome", ""), "error": a["error"]}
        for a in attempts
        if a.get("outcome") not in ("ok", "interrupted")
    ]


def _tools(message: Message) -> list[dict[str, Any]]:
    """The calculations the answer used, as the chat script shows them while streaming."""
    results = selectors.message_checkpoint_state(message, "tool_results")
    return [
        {
            "output": t.get("output", ""),
            "error": t.get("error"),
            "call": f"{t.get('name', '')}({json.dumps(t.get('arguments', {}))})",
        }
        for t in results
    ]


def _turns(*, tenant: Tenant, user: User, conversation: Conversation) -> list[Turn]:
    turns: list[Turn] = []
    pending: Message | None = None
    history = selectors.message_list(tenant=tenant, conversation=conversation).select_related(
        "checkpoint"
    )
    # The reader's own ratings, so the feedback buttons show what they already chose.
    given = {
        f.message_id: f
        for f in Feedback.objects.filter(
            tenant=tenant, user=user, message__conversation=conversation
        )
    }
    for message in history:
        if message.role == Message.Role.USER:
            if pending is not None:
                turns.append(Turn(question=pending, answer=None))
            pending = message
            continue
        turn = Turn(question=pending, answer=message)
        pending = None
        turn.parts = answer_parts(message.content, message.citations or [])
        turn.failovers = _failovers(message)
        turn.tools = _tools(message)
        turn.figures = selectors.message_checkpoint_state(message, "verification")
        turn.feedback = given.get(message.pk)
        if message.status == Message.Status.ERROR:
            turn.guidance = guidance_for(message.error_code or "provider_error")
        turns.append(turn)
    if pending is not None:
        turns.append(Turn(question=pending, answer=None))
    return turns


def _scope_labels(*, tenant: Tenant, scope: dict[str, Any]) -> list[str]:
    labels: list[str] = []
    if scope.get("company_ids"):
        names = {c.id: c.name for c in company_directory(tenant=tenant)}
        labels += [str(names.get(i, f"company {i}")) for i in scope["company_ids"]]
    labels += [str(t) for t in scope.get("tickers", [])]
    type_labels = dict(Document.DocType.choices)
    labels += [str(type_labels.get(t, t)) for t in scope.get("doc_types", [])]
    labels += [f"FY {y}" for y in scope.get("fiscal_years", [])]
    labels += [str(p) for p in scope.get("fiscal_periods", [])]
    return labels


def _sidebar(membership: Membership) -> list[Conversation]:
    return list(selectors.conversation_list(tenant=membership.tenant, user=membership.user)[:100])


@require_GET
@workspace_required
def chat_home(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The conversation list and the form that starts a new one."""
    return page(
        request,
        "agents/chat_home.html",
        membership=membership,
        section="chat",
        conversations=_sidebar(membership),
        form=ConversationScopeForm(tenant=membership.tenant),
    )


@require_POST
@workspace_required
def conversation_new(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Create a conversation (scoped when the form says so) and open it."""
    form = ConversationScopeForm(request.POST, tenant=membership.tenant)
    if not membership.can_write:
        messages.error(request, guidance_for("permission_denied"))
        return redirect("chat-home")
    if not form.is_valid():
        return page(
            request,
            "agents/chat_home.html",
            membership=membership,
            section="chat",
            conversations=_sidebar(membership),
            form=form,
            status=400,
        )
    question = form.cleaned_data["question"]
    try:
        conversation = services.conversation_create(
            tenant=membership.tenant,
            user=membership.user,
            title=form.cleaned_data["title"] or question[:120],
            scope=form.scope(),
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("chat-home")
    if question:
        # The conversation page sends it over its websocket as soon as it connects, once.
        request.session[_pending_key(conversation.pk)] = question
    return redirect("conversation", conversation_id=conversation.pk)


def _pending_key(conversation_id: int) -> str:
    return f"chat-pending-question-{conversation_id}"


@require_GET
@workspace_required
def conversation_page(
    request: HttpRequest, membership: Membership, conversation_id: int
) -> HttpResponse:
    """A conversation: its turns so far, and the composer that streams the next answer."""
    try:
        conversation = selectors.conversation_get(
            tenant=membership.tenant, user=membership.user, conversation_id=conversation_id
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    turns = _turns(tenant=membership.tenant, user=membership.user, conversation=conversation)
    spent = sum((t.answer.cost_usd for t in turns if t.answer), Decimal(0))
    return page(
        request,
        "agents/conversation.html",
        membership=membership,
        section="chat",
        conversation=conversation,
        conversations=_sidebar(membership),
        turns=turns,
        spent=spent,
        scope_labels=_scope_labels(tenant=membership.tenant, scope=conversation.scope or {}),
        can_ask=membership.can_write and conversation.user_id == membership.user_id,
        question_max_chars=settings.QUESTION_MAX_CHARS,
        pending_question=request.session.pop(_pending_key(conversation.pk), ""),
        error_guidance={**ERROR_GUIDANCE, "default": DEFAULT_GUIDANCE},
    )


@require_GET
@workspace_required
def question_link(
    request: HttpRequest, membership: Membership, query_id: uuid.UUID
) -> HttpResponse:
    """The question behind a query id, linked to its conversation (the usage page lists query
    ids from the ledger, which knows costs but not questions). Empty for one the reader cannot
    open."""
    question = (
        Message.objects.select_related("conversation")
        .filter(tenant=membership.tenant, query_id=query_id, role=Message.Role.USER)
        .first()
    )
    if question is None or not (
        membership.is_manager or question.conversation.user_id == membership.user_id
    ):
        return HttpResponse("")
    return render(request, "agents/_question_link.html", {"question": question})
