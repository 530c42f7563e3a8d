"""The websocket of a conversation: ask, stream frames, cancel; one turn at a time per socket."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.db import connections

from accounts.errors import ApplicationError
from agents import services
from agents.events import error_frame, frame
from monitoring import draining

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
# RFC 6455 "service restart": the server is going away; reconnect (another process answers).
CLOSE_SERVICE_RESTART = 1012


class ConversationConsumer(AsyncJsonWebsocketConsumer):
    """Frames out: start, token, citation, tool, usage, end, error.
    Frames in: {"type": "ask", "question": "..."} and {"type": "cancel"}."""

    turn: asyncio.Task[None] | None = None
    turn_active = False
    prepared: services.PreparedTurn | None = None

    async def connect(self) -> None:
        await self.accept()
        if self.scope.get("auth_error") is not None:
            exc: ApplicationError = self.scope["auth_error"]
            await self.send_json(error_frame(exc.code, exc.message, exc.details).as_frame())
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if self.scope.get("tenant_suspended"):
            await self.send_json(
                error_frame("tenant_suspended", "This workspace is suspended.").as_frame()
            )
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if self.scope.get("tenant") is None:
            await self.send_json(
                error_frame("not_authenticated", "Sign in or send an API key.").as_frame()
            )
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.conversation_id = int(self.scope["url_route"]["kwargs"]["conversation_id"])

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict) or content.get("type") not in ("ask", "cancel"):
            await self.send_json(
                error_frame(
                    "malformed_frame",
                    'Send {"type": "ask", "question": "..."} or {"type": "cancel"}.',
                ).as_frame()
            )
            return
        if content["type"] == "cancel":
            await self._cancel()
            return
        if self.turn_active:
            await self.send_json(
                error_frame(
                    "turn_in_progress", "Wait for the answer or cancel it first."
                ).as_frame()
            )
            return
        question = content.get("question")
        if not isinstance(question, str):
            await self.send_json(
                error_frame("invalid_input", "The question must be a string.").as_frame()
            )
            return
        self.prepared = None
        self.turn_active = True
        self.turn = asyncio.create_task(self._turn(question))

    async def _turn(self, question: str) -> None:
        """Prepare and stream one turn. As Django does for each HTTP request, the turn's sync
        work (database, retrieval) runs on a thread of its own rather than on the one thread that
        every socket of the process would otherwise share; its connections close at the end."""
        async with ThreadSensitiveContext():
            try:
                try:
                    self.prepared = await services.turn_prepare(
                        tenant=self.scope["tenant"],
                        user=self.scope["user"],
                        membership=self.scope["membership"],
                        conversation_id=self.conversation_id,
                        question=question,
                    )
                except ApplicationError as exc:
                    await self.send_json(error_frame(exc.code, exc.message, exc.details).as_frame())
                    await self._close_if_draining()
                    return
                await self._stream(self.prepared)
            finally:
                # Over once its last frame is sent: the next question may come before the cleanup.
                self.turn_active = False
                await sync_to_async(connections.close_all)()

    async def _stream(self, prepared: services.PreparedTurn) -> None:
        async for event in services.turn_stream(prepared):
            await self.send_json(event.as_frame())
        await self._close_if_draining()

    async def _close_if_draining(self) -> None:
        """A draining process closes a socket once its turn has sent its last frame."""
        if draining.is_draining():
            await self.close(code=CLOSE_SERVICE_RESTART)

    async def _cancel(self) -> None:
        turn, prepared = self.turn, self.prepared
        if turn is None or turn.done() or prepared is None:
            return
        turn.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await turn
        await self.send_json(
            frame(
                "end",
                message_id=prepared.ctx.state.get("message_id"),
                conversation_id=self.conversation_id,
                status="interrupted",
            ).as_frame()
        )

    async def disconnect(self, code: int) -> None:
        if self.turn is not None and not self.turn.done():
            self.turn.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.turn
