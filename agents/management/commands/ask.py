"""manage.py ask "question" --tenant SLUG [--conversation ID] [--user EMAIL] [--json]."""

from __future__ import annotations

import json
from typing import Any

from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.errors import ApplicationError
from accounts.models import Membership, Tenant
from agents import services, turns
from agents.turns.frames import (
    CitationFrame,
    EndFrame,
    ErrorFrame,
    StartFrame,
    TokenFrame,
    ToolFrame,
    UsageFrame,
    VerificationFrame,
)
from monitoring.terminal import progress_status


class Command(BaseCommand):
    help = "Ask a question and stream the cited answer to the terminal."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("question")
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--conversation", type=int, default=None)
        parser.add_argument("--user", default=None, help="member email (default: the first owner)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant '{options['tenant']}'.")
        members = Membership.objects.filter(tenant=tenant).select_related("user", "tenant")
        if options["user"]:
            members = members.filter(user__email=options["user"].lower())
        membership = members.order_by("role", "created_at").first()
        if membership is None:
            raise CommandError(_no_member_message(tenant.slug, options["user"]))
        conversation_id = options["conversation"]
        if conversation_id is None:
            conversation_id = services.conversation_create(
                tenant=tenant, user=membership.user, title=options["question"][:120]
            ).pk
        kwargs = {
            "tenant": tenant,
            "user": membership.user,
            "membership": membership,
            "conversation_id": conversation_id,
            "question": options["question"],
        }
        try:
            if options["json"]:
                with progress_status(self.stderr, "Searching and answering..."):
                    result = async_to_sync(turns.answer_turn_collect)(**kwargs)
                self.stdout.write(json.dumps(_json_shape(result), indent=2, default=str))
            else:
                with progress_status(self.stderr, "Searching the documents...") as status:
                    async_to_sync(self._stream)(kwargs, status)
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc

    async def _stream(self, kwargs: dict[str, Any], status: Any) -> None:
        cited, waiting = False, True
        async for frame in turns.answer_turn(**kwargs):
            if waiting and isinstance(frame, TokenFrame | ToolFrame | ErrorFrame | EndFrame):
                status.stop()  # the answer itself shows progress from here
                waiting = False
            match frame:
                case StartFrame():
                    status.update("Answering...")
                    if frame.offline:
                        self.stderr.write("Offline mode: answers are extracted from the passages.")
                    self.stderr.write(f"Scope: {frame.scope.get('description', 'all documents')}")
                    if frame.standalone_question != frame.question:
                        self.stderr.write(f"Standalone question: {frame.standalone_question}")
                case TokenFrame():
                    self.stdout.write(frame.text, ending="")
                    self.stdout.flush()
                case ToolFrame():
                    self.stdout.write(f"\n[calculator] {frame.output}")
                case CitationFrame():
                    if not cited:
                        self.stdout.write("\n\nSources:")
                        cited = True
                    c = frame.citation
                    self.stdout.write(f"  [{c['number']}] {c['document']}, page {c['page']}")
                case VerificationFrame() if frame.figures:
                    self.stdout.write(_figures_line(frame.figures))
                case UsageFrame():
                    self.stdout.write(
                        f"\n{frame.provider} {frame.model}: {frame.input_tokens} in, "
                        f"{frame.output_tokens} out, ${frame.cost_usd}"
                    )
                case ErrorFrame():
                    self.stderr.write(f"\nError: {frame.message}")
                case EndFrame():
                    self.stdout.write(f"conversation {frame.conversation_id} ({frame.status})")


def _figures_line(figures: list[dict[str, Any]]) -> str:
    unsupported = [f["text"] for f in figures if f["verdict"] == "unsupported"]
    line = f"\nFigures checked: {len(figures)}"
    if unsupported:
        line += "; not found in the cited sources: " + ", ".join(unsupported)
    return line


def _no_member_message(tenant_slug: str, email: str | None) -> str:
    add = (
        f"add one with `manage.py create_user EMAIL --tenant {tenant_slug} "
        "--role analyst`, then ask again"
    )
    if email:
        return f"{email} is not a member of tenant '{tenant_slug}': {add} (or pass --user)."
    return f"Tenant '{tenant_slug}' has no members to ask as: {add}."


def _json_shape(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "answer": result["answer"],
        "citations": [
            {
                "number": c["number"],
                "document": c["document"],
                "source": c["source"],
                "page": c["page"],
                "text": c["text"],
            }
            for c in result["citations"]
        ],
        "provider": result.get("provider", ""),
        "model": result.get("model", ""),
        "tokens": result.get("tokens", {}),
        "cost_usd": result.get("cost_usd", "0"),
        "conversation": result.get("conversation"),
        "status": result.get("status"),
        "offline": result.get("offline"),
        "scope": result.get("scope", {}),
        "standalone_question": result.get("standalone_question"),
        "tools": result.get("tools", []),
        "verification": result.get("verification", {}),
        "error": result.get("error"),
    }
