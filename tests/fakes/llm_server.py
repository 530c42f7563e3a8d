"""A local fake of the Anthropic and OpenAI HTTP APIs, scripted per test, so the real SDKs run.

The server speaks HTTP/1.1 on 127.0.0.1 (a free port) from a background thread with its own
event loop, so sync tests, async tests and the code under test can all call it. It answers

- Anthropic `POST /v1/messages`: JSON, or SSE (message_start, content_block_start,
  content_block_delta..., content_block_stop, message_delta, message_stop) when `stream` is true;
- OpenAI `POST /v1/chat/completions`: JSON, or SSE `data:` chunks ending with `data: [DONE]`,
  with a final usage chunk when `stream_options.include_usage` is set.

Each request takes the next scripted behaviour (`ok`, `calls_tools`, `slow`, `drop_after`,
`stall_after`, `rate_limited`, `server_error`, `overloaded`, `error_status`, `hang`), per API or
shared,
falling back to a default answer. Every request is recorded with its headers and body, and
with whether the client closed the connection before the server had finished, which is how a
test proves that cancelling a stream closed the upstream request.

Use `FakeLLMServer()` as a context manager, or the `llm_server` / `llm_env` fixtures:

    from tests.fakes.llm_server import llm_env_fixture, llm_server_fixture  # noqa: F401
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

Api = Literal["anthropic", "openai"]

DEFAULT_TEXT = "Revenue was $4.2 billion in fiscal 2023."

_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_OPENAI_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    429: "rate_limit_exceeded",
}
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    529: "Overloaded",
}
_PIECE = re.compile(r"\s*\S+\s*")


@dataclass(frozen=True)
class Behaviour:
    """How the server answers one request.

    Usage is given in the normalised shape (`input_tokens` is the whole prompt, cached parts
    included) and translated into each API's own fields; None means "count it".
    """

    kind: Literal["ok", "status", "hang"]
    text: str = DEFAULT_TEXT
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    delay_per_token: float = 0.0
    # Seconds before the first streamed word (a model "thinking"), on top of delay_per_token.
    first_token_delay: float = 0.0
    drop_after: int | None = None
    stall_after: int | None = None
    status: int = 200
    retry_after: float | None = None
    message: str = ""
    stop_reason: str = "end_turn"
    report_usage: bool = True
    # (name, arguments) per tool call; arguments given as a string are sent verbatim (malformed
    # JSON on purpose), a dict as JSON.
    tool_calls: tuple[tuple[str, dict[str, Any] | str], ...] = ()


def ok(
    text: str = DEFAULT_TEXT,
    *,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    cached_input_tokens: int = 0,
    cache_creation_input_tokens: int = 0,
    report_usage: bool = True,
) -> Behaviour:
    """A normal answer (streamed word by word when the client asked for a stream).

    `report_usage=False` plays an OpenAI-compatible server that ignores `include_usage`.
    """
    return Behaviour(
        "ok",
        text=text,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=cached_input_tokens,
        cache_creation_input_tokens=cache_creation_input_tokens,
        report_usage=report_usage,
    )


def calls_tools(
    *calls: tuple[str, dict[str, Any] | str], text: str = "", input_tokens: int | None = None
) -> Behaviour:
    """A response asking for tool calls (after optional text), ending with the API's tool stop
    reason; the arguments stream in fragments as the real APIs send them."""
    return Behaviour(
        "ok", text=text, tool_calls=tuple(calls), stop_reason="tool_use", input_tokens=input_tokens
    )


def slow(text: str = DEFAULT_TEXT, *, delay: float, **usage: int) -> Behaviour:
    """A streamed answer that waits `delay` seconds before each word."""
    return Behaviour("ok", text=text, delay_per_token=delay, **usage)  # type: ignore[arg-type]


def drop_after(tokens: int, text: str = DEFAULT_TEXT, *, delay: float = 0.0) -> Behaviour:
    """Stream `tokens` words, then cut the connection without finishing the response."""
    return Behaviour("ok", text=text, drop_after=tokens, delay_per_token=delay)


def stall_after(tokens: int, text: str = DEFAULT_TEXT) -> Behaviour:
    """Stream `tokens` words at once, then send nothing more until the client gives up."""
    return Behaviour("ok", text=text, stall_after=tokens)


def error_status(status: int, message: str = "", *, retry_after: float | None = None) -> Behaviour:
    """An HTTP error with the API's own error body (and a retry-after header if given)."""
    return Behaviour("status", status=status, message=message, retry_after=retry_after)


def rate_limited(retry_after: float | None = 1.0) -> Behaviour:
    return error_status(429, "Rate limit exceeded.", retry_after=retry_after)


def server_error(status: int = 500) -> Behaviour:
    return error_status(status, "Internal server error.")


def overloaded() -> Behaviour:
    """Anthropic's 529 `overloaded_error`."""
    return error_status(529, "Overloaded")


def hang() -> Behaviour:
    """Read the request and never answer, until the client gives up."""
    return Behaviour("hang")


@dataclass
class RecordedRequest:
    """One request the server received, and what became of its connection."""

    api: Api | None
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    behaviour: Behaviour | None
    received_at: float = field(default_factory=time.monotonic)
    tokens_sent: int = 0
    client_closed: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    client_closed_at: float | None = None

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    def mark_client_closed(self) -> None:
        if not self.finished.is_set() and not self.client_closed.is_set():
            self.client_closed_at = time.monotonic()
            self.client_closed.set()


class _ClientGone(Exception):
    """The client closed the connection while the server was still answering."""


class FakeLLMServer:
    """The scripted fake; see the module docstring."""

    def __init__(self, *, default: Behaviour | None = None):
        self.default = default or ok()
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._queues: dict[Api | None, deque[Behaviour]] = {
            None: deque(),
            "anthropic": deque(),
            "openai": deque(),
        }
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    def script(self, *behaviours: Behaviour, api: Api | None = None) -> FakeLLMServer:
        """Queue behaviours for the next requests to `api` (or to either API when None)."""
        with self._lock:
            self._queues[api].extend(behaviours)
        return self

    def requests_for(self, api: Api) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.api == api]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return True
            time.sleep(0.005)
        return False

    def start(self) -> FakeLLMServer:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", self.port)  # 0: a free port
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-llm-server", daemon=True)
        self._thread.start()
        if not ready.wait(5):
            raise RuntimeError("the fake LLM server did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
        self._loop = None
        self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _next_behaviour(self, api: Api) -> Behaviour:
        with self._lock:
            for queue in (self._queues[api], self._queues[None]):
                if queue:
                    return queue.popleft()
        return self.default

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            await self._serve_one(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, _ClientGone):
            pass
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        headers: dict[str, str] = {}
        for line in header_lines:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        raw = await _read_body(reader, headers)
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        path = target.split("?", 1)[0]
        api: Api | None = {"/v1/messages": "anthropic", "/v1/chat/completions": "openai"}.get(path)
        behaviour = self._next_behaviour(api) if api and method == "POST" else None
        record = RecordedRequest(api, method, path, headers, body, behaviour)
        with self._lock:
            self.requests.append(record)
        try:
            if api is None or behaviour is None:
                await _send_json(
                    writer,
                    record.finished,
                    404,
                    {"error": {"message": f"no route {method} {path}"}},
                )
            else:
                await self._answer(api, behaviour, record, reader, writer)
        finally:
            record.finished.set()

    async def _answer(
        self,
        api: Api,
        behaviour: Behaviour,
        record: RecordedRequest,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        watcher = asyncio.ensure_future(_watch_close(reader, record))
        try:
            if behaviour.kind == "hang":
                await watcher
            elif behaviour.kind == "status":
                await _send_error(writer, record.finished, api, behaviour)
            elif not record.stream:
                await _send_json(writer, record.finished, 200, _json_answer(api, behaviour, record))
            else:
                await _stream_answer(writer, api, behaviour, record, watcher)
        finally:
            watcher.cancel()


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = int(headers.get("content-length", "0") or 0)
    return await reader.readexactly(length) if length else b""


async def _watch_close(reader: asyncio.StreamReader, record: RecordedRequest) -> None:
    # A client sends nothing more on this connection while it waits for the answer, so end of
    # file (or a reset) here means it closed the connection.
    with contextlib.suppress(ConnectionError):
        while await reader.read(1024):
            pass
    record.mark_client_closed()


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send_json(
    writer: asyncio.StreamWriter,
    finished: threading.Event,
    status: int,
    payload: dict[str, Any],
    extra_headers: dict[str, str] | None = None,
) -> None:
    body = json.dumps(payload).encode()
    finished.set()
    headers = {
        "content-type": "application/json",
        "content-length": str(len(body)),
        "connection": "close",
        "request-id": "req_fake",
        **(extra_headers or {}),
    }
    writer.write(_head(status, headers) + body)
    await writer.drain()


async def _send_error(
    writer: asyncio.StreamWriter, finished: threading.Event, api: Api, behaviour: Behaviour
) -> None:
    status = behaviour.status
    extra: dict[str, str] = {}
    if behaviour.retry_after is not None:
        extra["retry-after"] = f"{behaviour.retry_after:g}"
    message = behaviour.message or f"fake error {status}"
    if api == "anthropic":
        payload: dict[str, Any] = {
            "type": "error",
            "error": {"type": _ANTHROPIC_ERROR_TYPES.get(status, "api_error"), "message": message},
            "request_id": "req_fake",
        }
    else:
        payload = {
            "error": {
                "message": message,
                "type": _OPENAI_ERROR_TYPES.get(status, "server_error"),
                "param": None,
                "code": None,
            }
        }
    await _send_json(writer, finished, status, payload, extra)


def _pieces(text: str) -> list[str]:
    return _PIECE.findall(text) or [text]


def _prompt_text(body: dict[str, Any]) -> str:
    parts: list[str] = []
    system = body.get("system")
    if isinstance(system, str):
        parts.append(system)
    elif isinstance(system, list):
        parts += [block.get("text", "") for block in system if isinstance(block, dict)]
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [
                str(block.get("text") or block.get("content") or "")
                for block in content
                if isinstance(block, dict)
            ]
    return " ".join(parts)


def _counts(behaviour: Behaviour, record: RecordedRequest, text: str) -> dict[str, int]:
    input_tokens = behaviour.input_tokens
    if input_tokens is None:
        input_tokens = max(1, len(_prompt_text(record.body)) // 4)
    output_tokens = behaviour.output_tokens
    if output_tokens is None:
        output_tokens = len(_pieces(text)) if text else 0
        output_tokens += sum(
            len(_arguments_json(args)) // 4 + 5 for _, args in behaviour.tool_calls
        )
    return {
        "input": input_tokens,
        "output": output_tokens,
        "cached": behaviour.cached_input_tokens,
        "created": behaviour.cache_creation_input_tokens,
    }


def _anthropic_usage(counts: dict[str, int], *, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": counts["input"] - counts["cached"] - counts["created"],
        "cache_read_input_tokens": counts["cached"],
        "cache_creation_input_tokens": counts["created"],
        "output_tokens": output_tokens,
    }


def _openai_usage(counts: dict[str, int]) -> dict[str, Any]:
    details: dict[str, int] = {"cached_tokens": counts["cached"]}
    if counts["created"]:
        details["cache_write_tokens"] = counts["created"]
    return {
        "prompt_tokens": counts["input"],
        "completion_tokens": counts["output"],
        "total_tokens": counts["input"] + counts["output"],
        "prompt_tokens_details": details,
    }


def _openai_finish_reason(stop_reason: str) -> str:
    return {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls"}.get(
        stop_reason, stop_reason
    )


def _arguments_json(arguments: dict[str, Any] | str) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def _halves(text: str) -> list[str]:
    middle = len(text) // 2
    return [part for part in (text[:middle], text[middle:]) if part]


def _call_id(api: Api, index: int) -> str:
    return f"toolu_fake{index}" if api == "anthropic" else f"call_fake{index}"


def _json_answer(api: Api, behaviour: Behaviour, record: RecordedRequest) -> dict[str, Any]:
    counts = _counts(behaviour, record, behaviour.text)
    model = record.body.get("model", "fake-model")
    if api == "anthropic":
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [
                *([{"type": "text", "text": behaviour.text}] if behaviour.text else []),
                *(
                    {
                        "type": "tool_use",
                        "id": _call_id(api, index),
                        "name": name,
                        "input": json.loads(_arguments_json(arguments)),
                    }
                    for index, (name, arguments) in enumerate(behaviour.tool_calls)
                ),
            ],
            "stop_reason": behaviour.stop_reason,
            "stop_sequence": None,
            "usage": _anthropic_usage(counts, output_tokens=counts["output"]),
        }
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": behaviour.text or None,
                    "refusal": None,
                    **(
                        {
                            "tool_calls": [
                                {
                                    "id": _call_id(api, index),
                                    "type": "function",
                                    "function": {
                                        "name": name,
                                        "arguments": _arguments_json(arguments),
                                    },
                                }
                                for index, (name, arguments) in enumerate(behaviour.tool_calls)
                            ]
                        }
                        if behaviour.tool_calls
                        else {}
                    ),
                },
                "finish_reason": _openai_finish_reason(behaviour.stop_reason),
                "logprobs": None,
            }
        ],
        "usage": _openai_usage(counts),
    }


def _anthropic_events(behaviour: Behaviour, record: RecordedRequest) -> Iterator[str | None]:
    """SSE frames; None marks where one word is sent (for delays and drops)."""
    counts = _counts(behaviour, record, behaviour.text)
    model = record.body.get("model", "fake-model")

    def frame(event: str, data: dict[str, Any]) -> str:
        return f"event: {event}\ndata: {json.dumps(data)}\n\n"

    message = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _anthropic_usage(counts, output_tokens=1),
    }
    yield frame("message_start", {"type": "message_start", "message": message})
    index = 0
    if behaviour.text or not behaviour.tool_calls:
        yield frame(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        )
        yield frame("ping", {"type": "ping"})
        for piece in _pieces(behaviour.text):
            yield None
            delta = {"type": "text_delta", "text": piece}
            yield frame(
                "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
            )
        yield frame("content_block_stop", {"type": "content_block_stop", "index": 0})
        index = 1
    for number, (name, arguments) in enumerate(behaviour.tool_calls):
        block = {"type": "tool_use", "id": _call_id("anthropic", number), "name": name, "input": {}}
        yield frame(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": block},
        )
        for fragment in _halves(_arguments_json(arguments)):
            yield None
            delta = {"type": "input_json_delta", "partial_json": fragment}
            yield frame(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
        yield frame("content_block_stop", {"type": "content_block_stop", "index": index})
        index += 1
    yield frame(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": behaviour.stop_reason, "stop_sequence": None},
            "usage": _anthropic_usage(counts, output_tokens=counts["output"]),
        },
    )
    yield frame("message_stop", {"type": "message_stop"})


def _openai_events(behaviour: Behaviour, record: RecordedRequest) -> Iterator[str | None]:
    counts = _counts(behaviour, record, behaviour.text)
    base = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": record.body.get("model", "fake-model"),
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return f"data: {json.dumps({**base, 'choices': [choice]})}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    for piece in _pieces(behaviour.text):
        yield None
        yield chunk({"content": piece})
    for number, (name, arguments) in enumerate(behaviour.tool_calls):
        yield None
        opening = {
            "index": number,
            "id": _call_id("openai", number),
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        yield chunk({"tool_calls": [opening]})
        for fragment in _halves(_arguments_json(arguments)):
            yield None
            yield chunk({"tool_calls": [{"index": number, "function": {"arguments": fragment}}]})
    yield chunk({}, _openai_finish_reason(behaviour.stop_reason))
    include_usage = (record.body.get("stream_options") or {}).get("include_usage")
    if include_usage and behaviour.report_usage:
        usage_chunk = {**base, "choices": [], "usage": _openai_usage(counts)}
        yield f"data: {json.dumps(usage_chunk)}\n\n"
    yield "data: [DONE]\n\n"


async def _stream_answer(
    writer: asyncio.StreamWriter,
    api: Api,
    behaviour: Behaviour,
    record: RecordedRequest,
    watcher: asyncio.Future[None],
) -> None:
    headers = {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "transfer-encoding": "chunked",
        "connection": "close",
        "request-id": "req_fake",
    }
    writer.write(_head(200, headers))
    await writer.drain()
    events = _anthropic_events if api == "anthropic" else _openai_events
    for frame in events(behaviour, record):
        if frame is None:
            if behaviour.drop_after is not None and record.tokens_sent >= behaviour.drop_after:
                # Cut the connection mid-body: the client sees an incomplete chunked response.
                writer.transport.abort()
                return
            if behaviour.stall_after is not None and record.tokens_sent >= behaviour.stall_after:
                await watcher
                raise _ClientGone
            if behaviour.first_token_delay and record.tokens_sent == 0:
                await asyncio.wait({watcher}, timeout=behaviour.first_token_delay)
            if behaviour.delay_per_token:
                await asyncio.wait({watcher}, timeout=behaviour.delay_per_token)
            if record.client_closed.is_set():
                raise _ClientGone
            record.tokens_sent += 1
            continue
        data = frame.encode()
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        try:
            await writer.drain()
        except ConnectionError as exc:
            record.mark_client_closed()
            raise _ClientGone from exc
    # Marked before the last bytes leave, so a client closing right after reading them is not
    # mistaken for one that hung up early.
    record.finished.set()
    writer.write(b"0\r\n\r\n")
    await writer.drain()


@pytest.fixture(name="llm_server")
def llm_server_fixture() -> Iterator[FakeLLMServer]:
    """A started fake server, stopped after the test."""
    with FakeLLMServer() as server:
        yield server


@pytest.fixture(name="llm_env")
def llm_env_fixture(llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> FakeLLMServer:
    """The fake server, with the SDKs' key and base-URL variables pointing at it."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", llm_server.anthropic_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.openai_base_url)
    return llm_server
