"""Locust users of the load test: conversations over the websocket, SSE and REST JSON.

Each user holds one API key and one conversation and asks unique questions (no answer-cache
hits) with a think time between them. Every turn is one line in LOAD_SAMPLES (JSON): the time to
the first token and to the full answer as the client saw them, the final status, and any error,
so bench/load/run.py computes the percentiles and checks the database against what clients saw.

    LOAD_KEYS=keys.json LOAD_SAMPLES=samples.jsonl locust -f bench/load/locustfile.py ...
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from typing import Any

import websocket
from locust import HttpUser, between, events, task

KEYS: list[str] = json.loads(open(os.environ["LOAD_KEYS"]).read())["keys"]  # noqa: SIM115
_next_key = itertools.count()
_samples = open(os.environ["LOAD_SAMPLES"], "a", buffering=1)  # noqa: SIM115

COMPANIES = ("Apple", "3M", "Microsoft")
METRICS = (
    "net sales",
    "operating income",
    "capital expenditures",
    "net income",
    "research and development expense",
    "cash from operations",
    "gross margin",
    "total debt",
)
YEARS = (2018, 2019, 2020)
THINK_SECONDS = (
    float(os.environ.get("LOAD_THINK_MIN", "5")),
    float(os.environ.get("LOAD_THINK_MAX", "10")),
)


def question() -> str:
    # Unique per turn: the answer cache must not answer the load.
    return (
        f"What were {random.choice(COMPANIES)}'s {random.choice(METRICS)} in fiscal "
        f"{random.choice(YEARS)}? Case {uuid.uuid4().hex[:8]}"
    )


def http_error(response: Any) -> str:
    """The house error code of a refused request (`service_restarting`), else `http <status>`."""
    try:
        return str(response.json()["error"]["code"])
    except Exception:
        return f"http {response.status_code}"


def record(kind: str, started: float, **fields: Any) -> None:
    sample = {"kind": kind, "at": started, **fields}
    _samples.write(json.dumps(sample) + "\n")
    events.request.fire(
        request_type=kind,
        name="full answer",
        response_time=(fields.get("full") or time.time() - started) * 1000,
        response_length=0,
        exception=None if fields.get("ok") else Exception(str(fields.get("error"))),
        context={},
    )


class _Conversation(HttpUser):
    abstract = True
    wait_time = between(*THINK_SECONDS)

    def on_start(self) -> None:
        self.key = KEYS[next(_next_key) % len(KEYS)]
        self.headers = {"Authorization": f"Bearer {self.key}"}
        response = self.client.post(
            "/api/v1/conversations", json={}, headers=self.headers, name="new conversation"
        )
        response.raise_for_status()
        self.conversation = response.json()["id"]


class WebsocketUser(_Conversation):
    """A browser tab: one websocket per conversation, reconnecting when the server says so."""

    weight = 2
    ws: websocket.WebSocket | None = None

    def _socket(self) -> websocket.WebSocket:
        if self.ws is None or not self.ws.connected:
            url = self.host.replace("http", "ws", 1) + f"/ws/conversations/{self.conversation}/"
            self.ws = websocket.create_connection(
                url, header=[f"Authorization: Bearer {self.key}"], origin=self.host, timeout=60
            )
        return self.ws

    @task
    def ask(self) -> None:
        started = time.time()
        reconnects = 0
        try:
            while True:
                outcome = self._turn(started)
                # A socket the server closed (1012 after a drain) before this turn began is
                # reopened once, as the browser does; any other close is an error.
                if outcome == "closed before the turn" and reconnects == 0:
                    reconnects += 1
                    continue
                if outcome is not None:
                    record("ws", started, ok=False, error=outcome, reconnects=reconnects)
                return
        except Exception as exc:
            self.ws = None
            record("ws", started, ok=False, error=type(exc).__name__, detail=str(exc)[:200])

    def _turn(self, started: float) -> str | None:
        """One question; records the turn and returns None, or returns why it did not start."""
        ws = self._socket()
        try:
            ws.send(json.dumps({"type": "ask", "question": question()}))
        except (websocket.WebSocketConnectionClosedException, BrokenPipeError, OSError):
            self.ws = None
            return "closed before the turn"
        ttft = None
        error = None
        seen_start = False
        while True:
            try:
                opcode, data = ws.recv_data()
            except (websocket.WebSocketConnectionClosedException, OSError):
                # A browser sees the close as it happens; this client reads only when it asks.
                self.ws = None
                return "closed before the turn" if not seen_start else "closed mid-turn"
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                self.ws = None
                return "closed before the turn" if not seen_start else f"closed {code} mid-turn"
            frame = json.loads(data)
            if frame["type"] == "start":
                seen_start = True
            elif frame["type"] == "token" and ttft is None:
                ttft = time.time() - started
            elif frame["type"] == "error":
                error = frame["error"]["code"]
                if not seen_start:
                    # Refused before the turn began: no end frame follows.
                    if error == "service_restarting":
                        self.ws = None
                        return "closed before the turn"
                    record("ws", started, ok=False, error=error)
                    return None
            elif frame["type"] == "end":
                record(
                    "ws",
                    started,
                    ok=error is None and frame["status"] == "complete",
                    ttft=ttft,
                    full=time.time() - started,
                    status=frame["status"],
                    error=error,
                )
                return None

    def on_stop(self) -> None:
        if self.ws is not None:
            self.ws.close()


class SseUser(_Conversation):
    """An integrator streaming over REST with `Accept: text/event-stream`."""

    weight = 1

    @task
    def ask(self) -> None:
        started = time.time()
        ttft = None
        error = None
        try:
            with self.client.post(
                f"/api/v1/conversations/{self.conversation}/messages",
                json={"question": question()},
                headers={**self.headers, "Accept": "text/event-stream"},
                stream=True,
                catch_response=True,
                name="sse",
                timeout=60,
            ) as response:
                response.success()  # judged below, once per turn
                if response.status_code != 200:
                    body = response.text[:200]
                    record(
                        "sse",
                        started,
                        ok=False,
                        error=http_error(response),
                        status_code=response.status_code,
                        detail=body,
                    )
                    return
                event = ""
                for line in response.iter_lines(decode_unicode=True):
                    if line.startswith("event: "):
                        event = line[7:]
                        if event == "token" and ttft is None:
                            ttft = time.time() - started
                    elif line.startswith("data: ") and event in ("error", "end"):
                        data = json.loads(line[6:])
                        if event == "error":
                            error = data["error"]["code"]
                        else:
                            record(
                                "sse",
                                started,
                                ok=error is None and data["status"] == "complete",
                                ttft=ttft,
                                full=time.time() - started,
                                status=data["status"],
                                error=error,
                            )
                            return
                record("sse", started, ok=False, error=error or "stream ended without end frame")
        except Exception as exc:
            record("sse", started, ok=False, error=type(exc).__name__, detail=str(exc)[:200])


class JsonUser(_Conversation):
    """An integrator waiting for the whole answer as one JSON object."""

    weight = 1

    @task
    def ask(self) -> None:
        started = time.time()
        try:
            with self.client.post(
                f"/api/v1/conversations/{self.conversation}/messages",
                json={"question": question()},
                headers=self.headers,
                catch_response=True,
                name="json",
                timeout=60,
            ) as response:
                response.success()
                full = time.time() - started
                if response.status_code != 200:
                    record(
                        "json",
                        started,
                        ok=False,
                        error=http_error(response),
                        status_code=response.status_code,
                        detail=response.text[:200],
                        retry_after=response.headers.get("Retry-After"),
                    )
                    return
                body = response.json()
                error = (body.get("error") or {}).get("code")
                record(
                    "json",
                    started,
                    ok=error is None and body["status"] == "complete",
                    full=full,
                    status=body["status"],
                    error=error,
                )
        except Exception as exc:
            record("json", started, ok=False, error=type(exc).__name__, detail=str(exc)[:200])
