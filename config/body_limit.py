"""Refuse request bodies over REQUEST_BODY_MAX_BYTES before they are read, with a 413 in the house
JSON error format.

Two layers, because the servers differ:
- `RequestBodyLimitMiddleware` (ASGI): a declared Content-Length over the limit is refused before
  the application runs; a body without one (chunked) is counted as it streams in and refused as
  soon as it passes the limit. Under a server that streams bodies with back-pressure (uvicorn,
  hypercorn) this bounds what the process ever holds.
- `BodyLimitedWebRequest` (daphne): daphne (twisted) receives the whole body into a temporary
  file and then queues all of it, in memory, for the application before the application runs,
  so no ASGI middleware can keep a large body out of memory there. `daphne_body_limit_install`
  makes daphne's own request object apply the same limit: the Content-Length check happens when
  the headers arrive (before any body is accepted, and before `100 Continue`), a chunked body is
  counted chunk by chunk, and either way the connection gets the 413 and is closed. It also stops
  twisted from parsing multipart bodies that daphne then ignores (12x the body in memory).
"""

from __future__ import annotations

import io
import json
from typing import Any

from daphne import server as daphne_server
from daphne.http_protocol import HTTPFactory, WebRequest

ERROR_CODE = "request_too_large"


def too_large_body(max_bytes: int) -> bytes:
    """The house error for an oversized body."""
    return json.dumps(
        {
            "error": {
                "code": ERROR_CODE,
                "message": f"The request body is larger than the limit of {max_bytes:,} bytes.",
                "details": {"max_bytes": max_bytes},
            }
        }
    ).encode()


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length itself
    return None


class RequestBodyLimitMiddleware:
    """ASGI middleware: 413 for an HTTP request whose body is over `max_bytes`."""

    def __init__(self, app: Any, *, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope.get("headers", []))
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        exceeded = False
        response_started = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Django stops reading on a disconnect and answers nothing; we answer.
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, limited_receive, tracking_send)
        if exceeded and not response_started:
            await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        body = too_large_body(self.max_bytes)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class BodyLimitedWebRequest(WebRequest):
    """daphne's request object, refusing a body over `max_body_bytes` as it arrives."""

    max_body_bytes = 0  # set by daphne_body_limit_install
    _body_bytes = 0
    _body_refused = False

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # Twisted parses every multipart POST body into `request.args` with the stdlib email
        # parser before daphne runs the application, and daphne never reads `args`: that parse
        # held about 12 times the body in memory (bench/upload_limits.py). Off: the body reaches
        # Django untouched, which parses it by streaming.
        self._parsePOSTFormSubmission = False

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > self.max_body_bytes:
            self.content = io.BytesIO()
            self._refuse()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self._body_refused:
            return
        self._body_bytes += len(data)
        if self._body_bytes > self.max_body_bytes:
            self.content.close()  # drops what was spooled so far
            self.content = io.BytesIO()
            self._refuse()
            return
        super().handleContentChunk(data)

    def process(self) -> Any:
        if self._body_refused:
            return None  # answered already; the application never sees this request
        return super().process()

    def _refuse(self) -> None:
        self._body_refused = True
        # Twisted would otherwise invite the client to send the body after our answer.
        self.requestHeaders.removeHeader(b"Expect")
        body = too_large_body(self.max_body_bytes)
        head = (
            b"HTTP/1.1 413 Payload Too Large\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % len(body)
        )
        self.channel.transport.write(head + body)
        self.channel.loseConnection()


class BodyLimitedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = BodyLimitedWebRequest
        return protocol


def daphne_body_limit_install(*, max_bytes: int) -> None:
    """Make daphne servers started in this process refuse bodies over `max_bytes`.

    daphne builds its HTTP factory in `Server.run()`, after it has imported the application
    (config.asgi), so installing it while the application is imported covers `daphne ...` and
    `manage.py runserver`.
    """
    BodyLimitedWebRequest.max_body_bytes = max_bytes
    daphne_server.HTTPFactory = BodyLimitedHTTPFactory
