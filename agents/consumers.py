"""The websocket of a conversation: ask, stream frames, cancel; one turn at a time per socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.db import connections

from accounts.errors import ApplicationError, PermissionDenied
from accounts.ws_auth import socket_authorize_async
from agents import turns
from agents.turns.frames import EndFrame, StartFrame, error_frame
from agents.ws_failures import turn_failure_report
from monitoring import draining

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
# RFC 6455 "service restart": the server is going away; reconnect (another process answers).
CLOSE_SERVICE_RESTART = 1012


class ConversationConsumer(AsyncJsonWebsocketConsumer):
    """Frames out: start, token, citation, tool, verification, usage, end, error.
    Frames in: {"type": "ask", "question": "..."} and {"type": "cancel"}."""

    turn: asyncio.Task[None] | None = None
    turn_active = False
    prepared: turns.PreparedTurn | None = None

    async def connect(self) -> None:
        await self.accept()
        error = self.scope.get("auth_error")
        if error is not None:
            await self._refuse(error)
            return
        self.conversation_id = int(self.scope["url_route"]["kwargs"]["conversation_id"])

    async def _send_error(self, exc: ApplicationError) -> None:
        await self.send_json(error_frame(exc.code, exc.message, exc.details).as_frame())

    async def _refuse(self, exc: ApplicationError) -> None:
        """Access is gone (credentials, membership, workspace): say why, then close."""
        await self._send_error(exc)
        await self.close(code=CLOSE_UNAUTHENTICATED if exc.status_code == 401 else CLOSE_FORBIDDEN)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Frames are JSON text; anything else gets an error frame, not a closed socket."""
        try:
            content = json.loads(text_data) if text_data is not None else None
        except ValueError:
            content = None
        if text_data is None or content is None:
            await self._malformed()
            return
        try:
            await self.receive_json(content)
        except Exception as exc:
            await turn_failure_report(self.send_json, exc)

    async def _malformed(self) -> None:
        await self.send_json(
            error_frame(
                "malformed_frame",
                'Send JSON text frames: {"type": "ask", "question": "..."} or {"type": "cancel"}.',
            ).as_frame()
        )

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict) or content.get("type") not in ("ask", "cancel"):
            await self._malformed()
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
        try:
            # Every question is authorised now, as a REST request would be.
            membership = await socket_authorize_async(self.scope, writes=True)
        except PermissionDenied as exc:
            await self._send_error(exc)
            return
        except ApplicationError as exc:
            await self._refuse(exc)
            return
        self.prepared = None
        self.turn_open = False  # between the turn's start frame and its end frame
        self.turn_active = True
        self.turn = asyncio.create_task(self._turn(question, membership))

    async def _turn(self, question: str, membership: Any) -> None:
        """Prepare and stream one turn. As Django does for each HTTP request, the turn's sync
        work (database, retrieval) runs on a thread of its own rather than on the one thread that
        every socket of the process would otherwise share; its connections close at the end."""
        async with ThreadSensitiveContext():
            try:
                try:
                    self.prepared = await turns.turn_prepare(
                        tenant=membership.tenant,
                        user=membership.user,
                        membership=membership,
                        conversation_id=self.conversation_id,
                        question=question,
                    )
                except ApplicationError as exc:
                    await self.send_json(error_frame(exc.code, exc.message, exc.details).as_frame())
                    await self._close_if_draining()
                    return
                await self._stream(self.prepared)
            except Exception as exc:
                await turn_failure_report(
                    self.send_json,
                    exc,
                    # An end frame only closes a turn whose start frame went out.
                    prepared=self.prepared if self.turn_open else None,
                    conversation_id=self.conversation_id,
                )
            finally:
                # Over once its last frame is sent: the next question may come before the cleanup.
                self.turn_active = False
                await sync_to_async(connections.close_all)()

    async def _stream(self, prepared: turns.PreparedTurn) -> None:
        async for frame in turns.turn_stream(prepared):
            await self.send_json(frame.as_frame())
            if isinstance(frame, StartFrame | EndFrame):
                self.turn_open = isinstance(frame, StartFrame)
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
            EndFrame(
                message_id=prepared.turn.message_id,
                conversation_id=self.conversation_id,
                status="interrupted",
            ).as_frame()
        )

    async def disconnect(self, code: int) -> None:
        if self.turn is not None and not self.turn.done():
            self.turn.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.turn
