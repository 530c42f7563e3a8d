"""The finance calculator called by the model: the real SDKs against the fake APIs, tool calls
parsed from the stream, run through the wrap_tool_call hooks, sent back in each API's format,
shown as `tool` frames, traced, checkpointed, billed per call and replayed from the cache."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from agents.contracts import (
    ChatMessage,
    ModelRequest,
    StreamEnd,
    ToolExchange,
    ToolRound,
    ToolUse,
)
from agents.models import Checkpoint
from agents.providers.anthropic_provider import AnthropicProvider
from agents.providers.openai_provider import OpenAIProvider
from agents.tests.support import ask, glueworks_ingest
from agents.tools import tool_definitions
from billing.models import LedgerEntry
from billing.pricing import price_cache_clear
from monitoring.models import TraceSpan
from monitoring.tracing import force_flush
from tests.fakes.llm_server import (
    FakeLLMServer,
    calls_tools,
    llm_env_fixture,  # noqa: F401 - pytest fixture
    llm_server_fixture,  # noqa: F401 - pytest fixture
    ok,
    overloaded,
)

GROWTH = "growth_percent(old=1373, new=1577) = 14.86"
QUESTION = "By how much did Glueworks' capital expenditures grow from 2017 to 2018?"
FINAL = "Capital expenditures grew 14.86%, from $1,373 million to $1,577 million [1]."
FILING = (
    "Glueworks Corp annual report for fiscal 2018.\n\f"
    "Item 7. Management's Discussion and Analysis\n\n"
    "Capital expenditures were $1,577 million in fiscal 2018, compared with $1,373 million in "
    "fiscal 2017.\n"
)

REQUEST = ModelRequest(
    system="Answer from the passages; use the calculator for arithmetic.",
    messages=(ChatMessage("user", QUESTION),),
    question=QUESTION,
    max_tokens=300,
    tools=tool_definitions(),
)


@pytest.fixture(autouse=True)
def _fresh_prices():
    price_cache_clear()
    yield
    price_cache_clear()


@pytest.fixture
def corpus(analyst):
    return glueworks_ingest(analyst.tenant, FILING)


def providers(server: FakeLLMServer) -> dict[str, AnthropicProvider | OpenAIProvider]:
    return {
        "anthropic": AnthropicProvider(api_key="sk-ant-test", base_url=server.anthropic_base_url),
        "openai": OpenAIProvider(api_key="sk-test", base_url=server.openai_base_url),
    }


# --- providers -----------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("api", ["anthropic", "openai"])
async def test_a_streamed_tool_call_is_parsed_from_fragments_with_its_text(llm_server, api):
    llm_server.script(
        calls_tools(
            ("growth_percent", {"old": 1373, "new": 1577}),
            ("margin_percent", {"part": 5, "whole": 20}),
            text="Let me calculate. ",
        ),
        api=api,
    )

    events = [event async for event in providers(llm_server)[api].stream(REQUEST)]

    uses = [event for event in events if isinstance(event, ToolUse)]
    assert [(u.name, u.arguments, u.arguments_error) for u in uses] == [
        ("growth_percent", {"old": 1373, "new": 1577}, ""),
        ("margin_percent", {"part": 5, "whole": 20}, ""),
    ]
    assert len({u.call_id for u in uses}) == 2
    assert events[-1] == StreamEnd("tool_use")
    body = llm_server.requests_for(api)[0].body
    names = [t["name"] if api == "anthropic" else t["function"]["name"] for t in body["tools"]]
    assert names == [t.name for t in tool_definitions()]
    assert body["tool_choice"] == ({"type": "auto"} if api == "anthropic" else "auto")


@pytest.mark.asyncio
@pytest.mark.parametrize("api", ["anthropic", "openai"])
async def test_arguments_that_are_not_json_become_an_error_for_the_model(llm_server, api):
    llm_server.script(calls_tools(("growth_percent", '{"old": 1373, "new": ')), api=api)

    events = [event async for event in providers(llm_server)[api].stream(REQUEST)]

    [use] = [event for event in events if isinstance(event, ToolUse)]
    assert use.arguments == {}
    assert "not valid JSON" in use.arguments_error


@pytest.mark.asyncio
async def test_tool_rounds_are_sent_back_in_each_apis_own_format(llm_server):
    exchange = ToolExchange("call_1", "growth_percent", {"old": 1373, "new": 1577}, GROWTH)
    request = ModelRequest(
        system=REQUEST.system,
        messages=REQUEST.messages,
        question=QUESTION,
        tools=REQUEST.tools,
        tool_rounds=(ToolRound(text="Let me calculate.", exchanges=(exchange,)),),
        tool_choice="none",
    )
    for provider in providers(llm_server).values():
        assert [e async for e in provider.stream(request)][-1] == StreamEnd("end_turn")

    anthropic_body = llm_server.requests_for("anthropic")[0].body
    assert anthropic_body["tool_choice"] == {"type": "none"}
    assert anthropic_body["messages"][-2:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me calculate."},
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "growth_percent",
                    "input": {"old": 1373, "new": 1577},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "call_1",
                    "content": GROWTH,
                    "is_error": False,
                }
            ],
        },
    ]
    openai_body = llm_server.requests_for("openai")[0].body
    assert openai_body["tool_choice"] == "none"
    assistant, tool = openai_body["messages"][-2:]
    assert assistant["role"] == "assistant"
    assert assistant["content"] == "Let me calculate."
    [call] = assistant["tool_calls"]
    assert call["id"] == "call_1"
    assert call["function"]["name"] == "growth_percent"
    assert json.loads(call["function"]["arguments"]) == {"old": 1373, "new": 1577}
    assert tool == {"role": "tool", "tool_call_id": "call_1", "content": GROWTH}


# --- a whole turn --------------------------------------------------------------------------


def tool_results_sent(server: FakeLLMServer, api: str, index: int) -> list[dict]:
    messages = server.requests_for(api)[index].body["messages"]  # type: ignore[arg-type]
    if api == "openai":
        return [m for m in messages if m["role"] == "tool"]
    return [
        block
        for m in messages
        if isinstance(m["content"], list)
        for block in m["content"]
        if block.get("type") == "tool_result"
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("api", ["anthropic", "openai"])
def test_the_model_calls_the_calculator_and_answers_with_its_result(
    analyst, corpus, llm_env, settings, api
):
    settings.LLM_CHAINS = {"free": ["offline"], "pro": [api, "offline"]}
    llm_env.script(
        calls_tools(("growth_percent", {"old": 1373, "new": 1577}), input_tokens=2_000),
        ok(FINAL, input_tokens=2_100, output_tokens=20),
        api=api,
    )

    body = ask(analyst, QUESTION).json()

    assert body["error"] is None
    assert body["provider"] == api
    assert body["answer"] == FINAL
    assert body["tools"] == [
        {
            "name": "growth_percent",
            "arguments": {"old": 1373, "new": 1577},
            "output": GROWTH,
            "error": None,
        }
    ]
    assert body["citations"][0]["page"] == 2
    # The second call carried the calculator's result back to the model.
    [sent] = tool_results_sent(llm_env, api, 1)
    assert GROWTH in json.dumps(sent)
    # Both calls are billed; the answer's cost is their sum.
    rows = LedgerEntry.objects.filter(query_id=body["query_id"], kind="model").order_by("id")
    assert [(r.provider, r.input_tokens) for r in rows] == [(api, 2_000), (api, 2_100)]
    assert Decimal(body["cost_usd"]) == sum(r.cost_usd for r in rows)
    state = Checkpoint.objects.get(message_id=body["message_id"]).state
    assert state["tool_results"] == [
        {
            "name": "growth_percent",
            "arguments": {"old": 1373, "new": 1577},
            "output": GROWTH,
            "error": None,
        }
    ]
    force_flush()
    [span] = TraceSpan.objects.filter(query_id=body["query_id"], name="execute_tool growth_percent")
    assert span.attributes["rag.tool.output"] == GROWTH
    assert json.loads(span.attributes["rag.tool.arguments"]) == {"new": 1577, "old": 1373}


@pytest.mark.django_db
def test_bad_tool_input_goes_back_to_the_model_as_an_error_it_can_correct(
    analyst, corpus, llm_env, settings
):
    settings.LLM_CHAINS = {"free": ["offline"], "pro": ["anthropic", "offline"]}
    llm_env.script(
        calls_tools(("growth_percent", {"old": 0, "new": 1577})),
        calls_tools(("growth_percent", {"old": 1373, "new": 1577})),
        ok(FINAL),
        api="anthropic",
    )

    body = ask(analyst, QUESTION).json()

    assert body["answer"] == FINAL
    first, second = body["tools"]
    assert first["error"]
    assert first["output"].startswith("Error: ")
    assert second["output"] == GROWTH
    [sent] = tool_results_sent(llm_env, "anthropic", 1)
    assert sent["is_error"] is True
    assert "zero" in sent["content"].lower()


@pytest.mark.django_db
def test_after_the_last_tool_round_the_model_must_answer_in_text(
    analyst, corpus, llm_env, settings
):
    settings.LLM_CHAINS = {"free": ["offline"], "pro": ["anthropic", "offline"]}
    settings.AGENT_MAX_TOOL_ROUNDS = 1
    llm_env.script(
        calls_tools(("growth_percent", {"old": 1373, "new": 1577})),
        calls_tools(("ratio", {"numerator": 1, "denominator": 3})),
        api="anthropic",
    )

    body = ask(analyst, QUESTION).json()

    requests = llm_env.requests_for("anthropic")
    assert len(requests) == 2
    assert requests[0].body["tool_choice"] == {"type": "auto"}
    assert requests[1].body["tool_choice"] == {"type": "none"}
    # A model ignoring tool_choice "none" gets no further round: its calls are not run.
    assert [t["name"] for t in body["tools"]] == ["growth_percent"]
    assert body["status"] == "complete"


@pytest.mark.django_db
def test_a_provider_failing_between_rounds_hands_the_rounds_to_the_next_one(
    analyst, corpus, llm_env, settings
):
    settings.LLM_CHAINS = {"free": ["offline"], "pro": ["anthropic", "openai", "offline"]}
    settings.LLM_MAX_RETRIES = 0
    llm_env.script(
        calls_tools(("growth_percent", {"old": 1373, "new": 1577})),
        overloaded(),
        api="anthropic",
    )
    llm_env.script(ok(FINAL), api="openai")

    body = ask(analyst, QUESTION).json()

    assert body["provider"] == "openai"
    assert body["answer"] == FINAL
    assert body["failovers"][0]["from"] == "anthropic"
    [sent] = tool_results_sent(llm_env, "openai", 0)
    assert sent["content"] == GROWTH
    assistant = next(
        m for m in llm_env.requests_for("openai")[0].body["messages"] if m.get("tool_calls")
    )
    assert assistant["tool_calls"][0]["id"] == sent["tool_call_id"]


@pytest.mark.django_db
def test_a_cached_answer_replays_its_calculations(analyst, corpus, llm_env, settings):
    settings.LLM_CHAINS = {"free": ["offline"], "pro": ["anthropic", "offline"]}
    llm_env.script(
        calls_tools(("growth_percent", {"old": 1373, "new": 1577})), ok(FINAL), api="anthropic"
    )
    first = ask(analyst, QUESTION).json()
    calls = len(llm_env.requests_for("anthropic"))

    again = ask(analyst, QUESTION).json()

    assert len(llm_env.requests_for("anthropic")) == calls
    assert again["provider"] == "cache"
    assert again["answer"] == first["answer"] == FINAL
    assert [t["output"] for t in again["tools"]] == [GROWTH]


@pytest.mark.django_db
def test_manage_py_ask_shows_the_calculation_in_the_terminal_and_in_json(
    analyst, corpus, llm_env, settings
):
    settings.LLM_CHAINS = {"free": ["offline"], "pro": ["anthropic", "offline"]}
    llm_env.script(
        calls_tools(("growth_percent", {"old": 1373, "new": 1577})),
        ok(FINAL),
        calls_tools(("growth_percent", {"old": 1373, "new": 1577})),
        ok(FINAL),
        api="anthropic",
    )
    settings.ANSWER_CACHE_ENABLED = False
    out = StringIO()
    call_command("ask", QUESTION, "--tenant", "acme", stdout=out, stderr=StringIO())
    printed = out.getvalue()
    assert f"[calculator] {GROWTH}" in printed
    assert printed.index(GROWTH) < printed.index(FINAL)
    assert printed.count("Sources:") == 1

    out = StringIO()
    call_command("ask", QUESTION, "--tenant", "acme", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["answer"] == FINAL
    assert [t["output"] for t in result["tools"]] == [GROWTH]


@pytest.mark.django_db
def test_a_saved_answer_keeps_its_calculations_on_the_page_and_in_exports(
    analyst, corpus, llm_env, settings
):
    settings.LLM_CHAINS = {"free": ["offline"], "pro": ["anthropic", "offline"]}
    llm_env.script(
        calls_tools(("growth_percent", {"old": 1373, "new": 1577})),
        calls_tools(("growth_percent", {"old": "n/a", "new": 1577})),
        ok(FINAL),
        api="anthropic",
    )
    body = ask(analyst, QUESTION).json()
    conversation = body["conversation"]

    browser = Client()
    browser.force_login(analyst.user)
    page = browser.get(f"/chat/{conversation}/").content.decode()
    listed = page[page.index('aria-label="Calculations"') :]
    assert f"<li>{GROWTH}</li>" in listed
    assert 'class="tool-error"' in listed
    assert "): Error: " in listed
    assert "&quot;old&quot;: &quot;n/a&quot;" in listed

    exported = analyst.client().get(f"/api/v1/conversations/{conversation}/export?format=json")
    answer = json.loads(exported.content)["messages"][-1]
    assert answer["tools"][0]["output"] == GROWTH
    assert answer["tools"][1]["error"]
    markdown = analyst.client().get(f"/api/v1/conversations/{conversation}/export?format=markdown")
    assert f"- `{GROWTH}`" in markdown.content.decode()
