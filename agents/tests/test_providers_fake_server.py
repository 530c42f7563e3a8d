"""The fake LLM server speaks each API's wire format, seen from plain synchronous HTTP clients."""

import http.client
import json

import pytest

from tests.fakes.llm_server import (
    FakeLLMServer,
    error_status,
    llm_server_fixture,  # noqa: F401 - pytest fixture
    ok,
    overloaded,
)


def post(server: FakeLLMServer, path: str, body: dict) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request(
            "POST", path, body=json.dumps(body), headers={"content-type": "application/json"}
        )
        response = connection.getresponse()
        return (
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            (response.read().decode()),
        )
    finally:
        connection.close()


def sse_events(raw: str) -> list[tuple[str | None, str]]:
    events = []
    for block in raw.strip().split("\n\n"):
        event = None
        data = ""
        for line in block.splitlines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = line.removeprefix("data: ")
        events.append((event, data))
    return events


def test_anthropic_stream_has_the_messages_api_event_sequence_and_usage(llm_server):
    llm_server.script(ok("Two words", input_tokens=30, cached_input_tokens=20))

    status, headers, raw = post(
        llm_server, "/v1/messages", {"model": "claude-x", "stream": True, "messages": []}
    )

    assert status == 200
    assert headers["content-type"] == "text/event-stream"
    names = [name for name, _ in sse_events(raw)]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = json.loads(sse_events(raw)[0][1])
    assert start["message"]["usage"]["input_tokens"] == 10
    assert start["message"]["usage"]["cache_read_input_tokens"] == 20
    final = json.loads(sse_events(raw)[-2][1])
    assert final["usage"]["output_tokens"] == 2


def test_openai_stream_ends_with_a_usage_chunk_then_done_when_asked(llm_server):
    body = {"model": "gpt-x", "stream": True, "stream_options": {"include_usage": True}}

    _, _, raw = post(llm_server, "/v1/chat/completions", body)

    data = [payload for _, payload in sse_events(raw)]
    assert data[-1] == "[DONE]"
    usage_chunk = json.loads(data[-2])
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] > 0
    assert json.loads(data[-3])["choices"][0]["finish_reason"] == "stop"


def test_openai_stream_has_no_usage_chunk_unless_asked(llm_server):
    _, _, raw = post(llm_server, "/v1/chat/completions", {"model": "gpt-x", "stream": True})

    data = [payload for _, payload in sse_events(raw)]
    assert all("usage" not in json.loads(d) for d in data[:-1])


def test_anthropic_overload_uses_the_api_error_shape(llm_server):
    llm_server.script(overloaded())

    status, _, raw = post(llm_server, "/v1/messages", {"model": "claude-x", "messages": []})

    assert status == 529
    assert json.loads(raw)["error"]["type"] == "overloaded_error"


@pytest.mark.parametrize(
    ("path", "api"), [("/v1/messages", "anthropic"), ("/v1/chat/completions", "openai")]
)
def test_scripted_behaviours_are_consumed_per_api_and_recorded(llm_server, path, api):
    llm_server.script(error_status(429, retry_after=4), api=api)

    first_status, first_headers, _ = post(llm_server, path, {"model": "m"})
    second_status, _, _ = post(llm_server, path, {"model": "m"})

    assert (first_status, second_status) == (429, 200)
    assert first_headers["retry-after"] == "4"
    assert [r.api for r in llm_server.requests] == [api, api]
    assert llm_server.requests[0].body == {"model": "m"}


def test_unknown_paths_answer_404(llm_server):
    status, _, _ = post(llm_server, "/v1/embeddings", {})

    assert status == 404
