"""Helpers of the hostile-tenant tests that drive the conversation websocket."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application
from retrieval.services import DocumentMetadata, document_ingest, document_register

FILING = (
    "Glueworks Corp annual report for fiscal 2018.\n\f"
    "Net sales were $32,765 million in fiscal 2018.\n"
    "Capital expenditures were $1,577 million in fiscal 2018.\n"
)


def glueworks_filing(tenant: Any) -> Any:
    document, _ = document_register(
        tenant=tenant,
        user=None,
        data=FILING.encode(),
        filename="glue.txt",
        metadata=DocumentMetadata(company="Glueworks Corp", ticker="GLUE", fiscal_year=2018),
        queue=False,
    )
    document_ingest(document_id=document.pk)
    return document


def socket(conversation_id: int, *, key: str | None = None, cookie: str | None = None) -> Any:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if key:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, f"/ws/conversations/{conversation_id}/", headers)


@database_sync_to_async
def session_cookie(user: Any) -> tuple[Client, str]:
    """A signed-in browser session for `user`: the client (to sign out) and its cookie header."""
    client = Client()
    client.force_login(user)
    return client, f"sessionid={client.cookies['sessionid'].value}"


async def next_frame(ws: Any, timeout: float = 30) -> dict[str, Any]:
    return dict(await ws.receive_json_from(timeout=timeout))


async def frames_until_end(ws: Any, timeout: float = 60) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = await next_frame(ws, timeout)
        frames.append(frame)
        if frame["type"] == "end":
            return frames


async def closed_with(ws: Any) -> int:
    output = await ws.receive_output(timeout=10)
    assert output["type"] == "websocket.close", output
    return int(output["code"])
