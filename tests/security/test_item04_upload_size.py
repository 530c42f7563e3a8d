"""Item 4: a body over the limit is refused with a 413 in the house format before it is read:
by the running server (daphne, as `make demo` runs it) when the headers arrive, by the ASGI
application for servers that stream bodies, and file by file against the tenant's limit."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from retrieval.models import Document
from tests.live_server import database_url, free_port

BASE_DIR = Path(__file__).resolve().parents[2]
SERVER_LIMIT = 1024 * 1024
GIB = 1024**3


@pytest.fixture(scope="module")
def daphne_server(django_db_setup: Any, django_db_blocker: Any) -> Iterator[int]:
    """daphne serving config.asgi as `make demo` does, with a 1 MiB body limit."""
    port = free_port()
    with django_db_blocker.unblock():
        test_database_url = database_url()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": test_database_url,
        "REQUEST_BODY_MAX_BYTES": str(SERVER_LIMIT),
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(
        [*command, "config.asgi:application"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, "daphne exited early"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "daphne did not start"
                time.sleep(0.25)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _read_response(sock: socket.socket, timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
    except TimeoutError:
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    assert head, "the server did not answer"
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body else {}


def _upload_head(extra: str) -> bytes:
    return (
        "POST /api/v1/documents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Authorization: Bearer not-needed-to-be-refused\r\n"
        "Content-Type: multipart/form-data; boundary=b0undary\r\n" + extra + "\r\n"
    ).encode()


def test_the_server_refuses_a_declared_one_gib_upload_before_reading_any_of_it(daphne_server):
    with socket.create_connection(("127.0.0.1", daphne_server)) as sock:
        sock.sendall(_upload_head(f"Content-Length: {GIB}\r\n"))  # and not one byte of body
        status, body = _read_response(sock)
    assert status == 413
    assert body["error"]["code"] == "request_too_large"
    assert body["error"]["details"]["max_bytes"] == SERVER_LIMIT


def test_the_server_stops_a_chunked_upload_once_it_passes_the_limit(daphne_server):
    chunk = b"x" * 65536
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    sent = 0
    with socket.create_connection(("127.0.0.1", daphne_server)) as sock:
        sock.sendall(_upload_head("Transfer-Encoding: chunked\r\n"))
        # Stream up to 4x the limit and never end the body: the server must answer anyway,
        # once the limit is passed (stopping early if it already has).
        while sent < 4 * SERVER_LIMIT:
            if select.select([sock], [], [], 0)[0]:
                break
            try:
                sock.sendall(framed)
            except OSError:
                break
            sent += len(chunk)
        status, body = _read_response(sock)
    assert status == 413
    assert body["error"]["code"] == "request_too_large"


class _Body:
    """An ASGI receive() that hands out `total` bytes in 1 MiB messages and counts them."""

    def __init__(self, total: int):
        self.total = total
        self.pulled = 0
        self.chunk = b"x" * (1024 * 1024)

    async def __call__(self) -> dict[str, Any]:
        if self.pulled >= self.total:
            return {"type": "http.disconnect"}
        size = min(len(self.chunk), self.total - self.pulled)
        self.pulled += size
        return {
            "type": "http.request",
            "body": self.chunk[:size],
            "more_body": self.pulled < self.total,
        }


def _asgi_request(headers: list[tuple[bytes, bytes]], body: _Body) -> tuple[int, dict]:
    from config.asgi import application

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/documents",
        "raw_path": b"/api/v1/documents",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    async_to_sync(application)(scope, body, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(payload)


@pytest.mark.django_db
def test_the_application_refuses_a_declared_oversize_body_without_reading_it():
    body = _Body(GIB)
    status, error = _asgi_request([(b"content-length", str(GIB).encode())], body)
    assert status == 413
    assert error["error"]["code"] == "request_too_large"
    assert body.pulled == 0


@pytest.mark.django_db
def test_the_application_stops_reading_a_body_without_length_past_the_limit():
    limit = settings.REQUEST_BODY_MAX_BYTES
    body = _Body(limit + 8 * 1024 * 1024)
    status, error = _asgi_request([(b"transfer-encoding", b"chunked")], body)
    assert status == 413
    assert error["error"]["details"]["max_bytes"] == limit
    assert body.pulled <= limit + 1024 * 1024


@pytest.mark.django_db
def test_a_file_over_the_tenants_limit_is_refused_as_it_streams_and_nothing_is_kept(analyst):
    tenant = analyst.tenant
    tenant.max_upload_bytes_override = 64 * 1024
    tenant.save()
    response = analyst.client().post(
        "/api/v1/documents",
        {"files": [SimpleUploadedFile("big.txt", b"x" * (1024 * 1024), "text/plain")]},
        format="multipart",
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert response.json()["error"]["details"] == {"reason": "too_large", "max_bytes": 64 * 1024}
    assert not Document.objects.filter(tenant=tenant).exists()
