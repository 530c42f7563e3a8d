"""Item 8: everything under /api/ answers in the house JSON error format: a database outage is
a 503 with Retry-After (not an HTML 500), unknown paths and ids a 404, a wrong method a 405, an
oversized body a 413, and a malformed multipart body or undecodable request a 400 with a body,
even through the real server; debug mode changes none of it."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from django.db import connection
from django.test import override_settings

from agents.services import conversation_create
from config.asgi import application
from tests.live_server import daphne_serving

pytestmark = pytest.mark.django_db(transaction=True)


def house_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    if code:
        assert error["code"] == code
    return error


@pytest.fixture
def database_down():
    """The database stops answering: connections go to a socket where nothing listens."""
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = "1"
    connection.settings_dict["HOST"] = "/nonexistent"
    yield
    connection.close()
    connection.settings_dict.update(saved)


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_a_database_outage_is_a_json_503_with_retry_after(analyst, database_down, debug):
    with override_settings(DEBUG=debug):
        response = analyst.client().post(
            "/api/v1/conversations/1/messages", {"question": "anything"}, format="json"
        )
    house_error(response, 503, "service_unavailable")
    assert int(response["Retry-After"]) > 0
    assert "nonexistent" not in response.content.decode()


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
@pytest.mark.parametrize("path", ["/api/v1/documents/abc", "/api/v1/no-such-thing", "/api/x"])
def test_unknown_paths_and_ids_are_json_404s(analyst, path, debug):
    with override_settings(DEBUG=debug):
        house_error(analyst.client().get(path), 404, "not_found")


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_a_wrong_method_is_a_json_405_with_allow(analyst, debug):
    with override_settings(DEBUG=debug):
        response = analyst.client().delete("/api/v1/search")
    house_error(response, 405, "method_not_allowed")
    assert "POST" in response["Allow"]


def test_an_oversized_body_is_a_json_413(analyst):
    body = b'{"query": "' + b"a" * 3_000_000 + b'"}'
    response = analyst.client().generic(
        "POST", "/api/v1/search", body, content_type="application/json"
    )
    house_error(response, 413, "request_too_large")


@pytest.mark.asyncio
async def test_an_undecodable_request_is_a_json_400():
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/me",
        "raw_path": b"/api/v1/me",
        "query_string": b"q=\xff\xfe",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    app = ApplicationCommunicator(application, scope)
    await app.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await app.receive_output(timeout=10)
    body = await app.receive_output(timeout=10)
    assert start["status"] == 400
    headers = {name.lower(): value for name, value in start["headers"]}
    assert headers[b"content-type"] == b"application/json"
    assert b'"malformed_request"' in body["body"]


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def test_a_malformed_multipart_body_reaches_django_through_the_real_server(analyst):
    conversation = conversation_create(tenant=analyst.tenant, user=analyst.user)
    headers = {
        "Authorization": f"Bearer {analyst.raw_key}",
        "Content-Type": "multipart/form-data; boundary=c637e12e",
    }
    with daphne_serving("security-item08") as url:
        for path in ("/api/v1/documents", f"/api/v1/conversations/{conversation.pk}/messages"):
            status, content_type, body = post(url + path, b"--c637e12e--\r\n", headers)
            assert status == 400, (path, status, body)
            assert content_type.startswith("application/json"), (path, content_type, body)
            assert b'"error"' in body
