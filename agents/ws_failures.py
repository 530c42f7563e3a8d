"""A websocket turn that fails on a backing service ends with an error frame, not a dead socket.

A REST question asked while Postgres or Redis is down answers a JSON 503 with Retry-After
(accounts.middleware). The websocket had no such net: an OperationalError raised while a frame
was handled or a turn prepared or streamed left the consumer's task with the exception, and the
client waited on a socket that said nothing (the Postgres drill of make drills). The consumer
calls turn_failure_report() from its handlers' `except Exception`: an outage (the same exception
classes as the REST 503) sends `service_unavailable` with `retry_after`, anything else
`server_error`; both are logged with their traceback. When the turn's start frame went out, an
`end` frame with status "error" follows, as the client expects of
an error after the start. Cancellation (a stop, a disconnect) is a BaseException and never
arrives here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

from accounts.middleware import OUTAGES, STATUS_ERRORS
from agents.turns.frames import EndFrame, error_frame

logger = logging.getLogger(__name__)

SendJson = Callable[[Any], Awaitable[None]]


def failure_frame(exc: BaseException) -> dict[str, Any]:
    """The error frame a client gets for an exception no handler expected."""
    if isinstance(exc, OUTAGES):
        code, message = STATUS_ERRORS[503]
        details = {"retry_after": settings.API_RETRY_AFTER_SECONDS}
        return error_frame(code, message, details).as_frame()
    code, message = STATUS_ERRORS[500]
    return error_frame(code, message).as_frame()


async def turn_failure_report(
    send_json: SendJson,
    exc: BaseException,
    *,
    prepared: Any = None,
    conversation_id: int | None = None,
) -> None:
    """Log the failure and tell the client (error, then end when the turn had been prepared);
    a socket already gone is not a second failure."""
    if isinstance(exc, OUTAGES):
        logger.error("websocket turn: dependency unavailable: %s", type(exc).__name__, exc_info=exc)
    else:
        logger.error("websocket turn failed", exc_info=exc)
    with contextlib.suppress(Exception):
        await send_json(failure_frame(exc))
        if prepared is not None and conversation_id is not None:
            end = EndFrame(
                message_id=prepared.turn.message_id,
                conversation_id=conversation_id,
                status="error",
            )
            await send_json(end.as_frame())
