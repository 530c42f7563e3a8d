"""Billing in the pipeline, end to end: per-answer cost from the ledger, the answer cache,
budget and rate-limit refusals, and settlement of the hold on every path."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync

from accounts.models import Tenant
from agents.hooks.billing import turn_hold_plan
from agents.models import Message
from agents.providers.chains import chain_resolve, provider_settings_from_django
from agents.tokens import estimate_tokens
from agents.turns.turn import Turn
from billing.models import BudgetPeriod, LedgerEntry, Reservation
from billing.pricing import price_cache_clear
from billing.ratelimit import stream_slots_held
from monitoring import metrics
from monitoring.models import TraceSpan
from monitoring.tracing import force_flush
from retrieval.services import DocumentMetadata, document_ingest, document_register
from tests.fakes.llm_server import drop_after, ok, overloaded, slow

pytestmark = pytest.mark.django_db

FILING = (
    "Glueworks Corp annual report for fiscal 2018.\n\nItem 1. Business\n\n"
    "Glueworks makes industrial adhesives.\n\f"
    "Item 7. Management's Discussion and Analysis\n\n"
    "Net sales were $32,765 million in fiscal 2018.\n"
    "Capital expenditures were $1,577 million in fiscal 2018.\n"
)
CAPEX = "What were Glueworks' capital expenditures in 2018?"
ANSWER = "Capital expenditures were $1,577 million [1]."


@pytest.fixture(autouse=True)
def _fresh_prices():
    price_cache_clear()
    yield
    price_cache_clear()


def ingest(tenant, text: str, filename: str) -> None:
    document, _ = document_register(
        tenant=tenant,
        user=None,
        data=text.encode(),
        filename=filename,
        metadata=DocumentMetadata(
            title=filename,
            company="Glueworks Corp",
            ticker="GLUE",
            doc_type="10-K",
            fiscal_year=2018,
            fiscal_period="FY",
        ),
        queue=False,
    )
    document_ingest(document_id=document.pk)


@pytest.fixture
def corpus(analyst):
    ingest(analyst.tenant, FILING, "glue-2018.txt")


def new_conversation(member) -> int:
    response = member.client().post("/api/v1/conversations", {}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def ask(member, question: str, conversation_id: int | None = None, **headers):
    conversation_id = conversation_id or new_conversation(member)
    return member.client().post(
        f"/api/v1/conversations/{conversation_id}/messages",
        {"question": question},
        format="json",
        **headers,
    )


def ledger_of(query_id: str) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(query_id=query_id).order_by("id"))


def tenant_period(tenant) -> BudgetPeriod:
    return BudgetPeriod.objects.get(tenant=tenant, user__isnull=True)


def assert_released(member, query_id: str) -> None:
    reservation = Reservation.objects.get(query_id=query_id)
    assert reservation.status == "settled"
    assert tenant_period(member.tenant).reserved_usd == 0
    assert stream_slots_held(tenant=member.tenant, user=member.user) == 0


def test_an_answer_carries_its_estimated_and_actual_cost_covering_every_attempt(
    analyst, corpus, llm_env
):
    llm_env.script(overloaded(), overloaded(), overloaded(), api="anthropic")
    llm_env.script(ok(ANSWER, input_tokens=3_000, output_tokens=12), api="openai")
    body = ask(analyst, CAPEX).json()
    assert body["provider"] == "openai"
    rows = ledger_of(body["query_id"])
    calls = [(r.kind, r.provider, r.status) for r in rows]
    assert calls == [
        ("embedding", "local", "ok"),
        ("model", "anthropic", "error"),
        ("model", "anthropic", "error"),
        ("model", "anthropic", "error"),
        ("model", "openai", "ok"),
        ("query", "openai", "ok"),
    ]
    # 3,000 x $0.75 + 12 x $4.50 per MTok on gpt-5.4-mini; the failed calls and MiniLM are free.
    actual = Decimal("0.002304")
    assert rows[-1].cost_usd == actual
    assert Decimal(body["cost_usd"]) == actual
    assert Message.objects.get(query_id=body["query_id"], role="assistant").cost_usd == actual
    estimated = Decimal(body["estimated_cost_usd"])
    assert estimated > actual  # priced before the call with max_tokens of output
    assert rows[-1].estimated_cost_usd == estimated
    assert rows[-1].providers_tried == ["anthropic", "anthropic", "anthropic", "openai"]
    assert tenant_period(analyst.tenant).spent_usd == actual
    assert_released(analyst, body["query_id"])


def hold_plan(member, *, tier: str, question: str):
    """The hold a turn of `tier` asking `question` takes before retrieval."""
    chain = chain_resolve(tier, provider_settings_from_django())
    turn = Turn(
        tenant=member.tenant,
        user=member.user,
        membership=member.membership,
        conversation_id=1,
        question=question,
        chain=chain,
        tier=tier,
    )
    return turn_hold_plan(turn)


def test_the_hold_covers_the_dearest_model_of_the_chain(analyst, llm_env, settings):
    chain = chain_resolve("pro", provider_settings_from_django())
    assert list(chain.names) == ["anthropic", "openai", "offline"]
    embedding = estimate_tokens("openai", "text-embedding-3-small", CAPEX)
    settings.AGENT_TOOLS_ENABLED = False
    plan = hold_plan(analyst, tier="pro", question=CAPEX)
    # (16,000 - 1,024) x 1.25 prompt tokens + 1,024 output on Sonnet at $3/$15 per MTok.
    assert plan.amount_usd == Decimal("0.071520")
    assert plan.tokens == 18_720 + 1_024 + embedding


def test_the_hold_covers_every_call_of_the_tool_rounds(analyst, llm_env, settings):
    settings.AGENT_TOOLS_ENABLED = True
    settings.AGENT_MAX_TOOL_ROUNDS = 2
    plan = hold_plan(analyst, tier="pro", question=CAPEX)
    # Three calls: each reads the 18,720-token prompt, the second and third also every earlier
    # call's output (1,024) and tool results (256): 3 x 18,720 + 1,280 + 2 x 1,280 = 60,000 in,
    # 3 x 1,024 = 3,072 out, on Sonnet at $3/$15 per MTok.
    assert plan.amount_usd == Decimal("0.226080")
    assert plan.tokens == 60_000 + 3_072 + embedding_tokens(CAPEX)


def embedding_tokens(text: str) -> int:
    return estimate_tokens("openai", "text-embedding-3-small", text)


def test_a_repeated_question_is_answered_from_the_cache_without_calling_a_model(
    analyst, corpus, llm_env
):
    llm_env.script(ok(ANSWER, input_tokens=3_000, output_tokens=12), api="anthropic")
    first = ask(analyst, CAPEX).json()
    assert first["provider"] == "anthropic"
    calls_before = len(llm_env.requests_for("anthropic"))
    hits = metrics.CACHE_HITS.labels(cache="answer")._value.get()

    again = ask(analyst, "  what were glueworks' capital expenditures in 2018 ").json()
    assert len(llm_env.requests_for("anthropic")) == calls_before
    assert again["provider"] == "cache"
    assert again["answer"] == ANSWER
    assert again["citations"] == first["citations"]
    assert again["citations"][0]["page"] == 2
    assert Decimal(again["cost_usd"]) == 0
    assert metrics.CACHE_HITS.labels(cache="answer")._value.get() == hits + 1
    hit = LedgerEntry.objects.get(query_id=again["query_id"], kind="model")
    assert hit.cache_hit
    assert (hit.provider, hit.model) == ("anthropic", "claude-sonnet-5-5")
    assert hit.cost_saved_usd == Decimal("0.009180")  # 3,000 x $3 + 12 x $15 per MTok
    summary = LedgerEntry.objects.get(query_id=again["query_id"], kind="query")
    assert summary.cache_hit
    assert summary.cost_usd == 0
    assert_released(analyst, again["query_id"])


def test_a_cache_hit_is_found_before_retrieval_and_sends_nothing_to_a_model(
    analyst, corpus, llm_env
):
    llm_env.script(ok(ANSWER, input_tokens=3_000, output_tokens=12), api="anthropic")
    first = ask(analyst, CAPEX).json()

    again = ask(analyst, CAPEX).json()

    assert again["provider"] == "cache"
    assert again["citations"] == first["citations"]
    assert again["citations"][0]["document_id"] is not None
    assert again["scope"]["description"] == "Answered from the answer cache."
    # The question was neither embedded nor searched, and no prompt was built for a model.
    kinds = set(
        LedgerEntry.objects.filter(query_id=again["query_id"]).values_list("kind", flat=True)
    )
    assert kinds == {"model", "query"}
    assert "embedding" in set(
        LedgerEntry.objects.filter(query_id=first["query_id"]).values_list("kind", flat=True)
    )
    force_flush()
    names = set(TraceSpan.objects.filter(query_id=again["query_id"]).values_list("name", flat=True))
    assert "retrieval" not in names
    assert not any(name.startswith("hook.before_model.") for name in names)
    assert "hook.before_agent.answer_cache" in names
    assert_released(analyst, again["query_id"])


def test_a_cache_hit_keeps_the_question_its_answer_checkpoint_and_ledger_rows(analyst, corpus):
    assert ask(analyst, CAPEX).json()["provider"] == "offline"
    conversation_id = new_conversation(analyst)

    again = ask(analyst, CAPEX, conversation_id).json()

    assert again["provider"] == "cache"
    messages = list(
        Message.objects.filter(conversation_id=conversation_id).order_by("created_at", "id")
    )
    assert [(m.role, m.content, str(m.query_id)) for m in messages] == [
        ("user", CAPEX, again["query_id"]),
        ("assistant", again["answer"], again["query_id"]),
    ]
    answer = messages[1]
    assert answer.pk == again["message_id"]
    assert (answer.provider, answer.status, answer.cost_usd) == ("cache", "complete", 0)
    state = answer.checkpoint.state
    assert (state["question"], state["answer"], state["provider"]) == (
        CAPEX,
        again["answer"],
        "cache",
    )
    rows = ledger_of(again["query_id"])
    assert [(r.kind, r.cache_hit, r.cost_usd) for r in rows] == [
        ("model", True, 0),
        ("query", True, 0),
    ]
    assert rows[0].cost_saved_usd == rows[1].cost_saved_usd
    assert_released(analyst, again["query_id"])


@pytest.mark.django_db(transaction=True)  # the retry reconnects, never inside a transaction
def test_a_cache_hit_puts_its_ledger_rows_down_through_a_short_database_outage(
    analyst, corpus, monkeypatch
):
    from django.db import OperationalError

    import agents.hooks.billing as billing_hooks
    import agents.outage_retry as outage_retry

    assert ask(analyst, CAPEX).json()["provider"] == "offline"
    real = billing_hooks.query_summary_record
    failures = []

    def flaky(**kwargs):
        if not failures:
            failures.append(True)
            raise OperationalError("the database went away")
        return real(**kwargs)

    monkeypatch.setattr(billing_hooks, "query_summary_record", flaky)
    monkeypatch.setattr(outage_retry, "FIRST_DELAY_SECONDS", 0.0)

    again = ask(analyst, CAPEX).json()

    assert again["provider"] == "cache"
    assert failures == [True]
    rows = ledger_of(again["query_id"])
    assert [(r.kind, r.cache_hit) for r in rows] == [("model", True), ("query", True)]
    assert_released(analyst, again["query_id"])


def test_another_model_in_the_chain_is_not_served_the_old_models_answer(
    analyst, corpus, llm_env, settings
):
    llm_env.script(ok(ANSWER), ok(ANSWER), api="anthropic")
    assert ask(analyst, CAPEX).json()["provider"] == "anthropic"
    settings.ANTHROPIC_MODEL = "claude-opus-5"

    again = ask(analyst, CAPEX).json()

    assert again["provider"] == "anthropic"
    assert again["model"] == "claude-opus-5"
    assert llm_env.requests_for("anthropic")[-1].body["model"] == "claude-opus-5"


def test_follow_up_questions_are_never_answered_from_the_cache(analyst, corpus):
    for _ in range(2):
        conversation_id = new_conversation(analyst)
        ask(analyst, "What were Glueworks' net sales in fiscal 2018?", conversation_id)
        follow_up = ask(analyst, "and capital expenditures?", conversation_id).json()
        assert follow_up["provider"] == "offline"
        assert "1,577" in follow_up["answer"]
    assert LedgerEntry.objects.filter(kind="query", cache_hit=True).count() == 1


def test_ingesting_a_document_invalidates_cached_answers(analyst, corpus):
    assert ask(analyst, CAPEX).json()["provider"] == "offline"
    assert ask(analyst, CAPEX).json()["provider"] == "cache"
    ingest(analyst.tenant, FILING.replace("1,577", "1,600"), "glue-2018-restated.txt")
    fresh = ask(analyst, CAPEX).json()
    assert fresh["provider"] == "offline"


def test_a_question_over_the_budget_gets_402_and_never_reaches_a_model(analyst, corpus, llm_env):
    Tenant.objects.filter(pk=analyst.tenant.pk).update(monthly_budget_usd_override=Decimal("0"))
    conversation_id = new_conversation(analyst)
    response = ask(analyst, CAPEX, conversation_id)
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "budget_exhausted"
    assert error["details"]["limit"] == "monthly_budget_usd"
    assert error["details"]["resets_at"].endswith("-01T00:00:00+00:00")
    assert "resets on" in error["message"]
    assert llm_env.requests_for("anthropic") == []
    assert not Message.objects.filter(conversation_id=conversation_id).exists()
    assert stream_slots_held(tenant=analyst.tenant, user=analyst.user) == 0


def test_a_question_over_the_rate_limit_gets_429_with_retry_after_and_headers(analyst, corpus):
    Tenant.objects.filter(pk=analyst.tenant.pk).update(requests_per_minute_user_override=1)
    assert ask(analyst, CAPEX).status_code == 200
    refused = ask(analyst, CAPEX)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["X-RateLimit-Limit"] == "1"
    assert refused["X-RateLimit-Remaining"] == "0"
    assert int(refused["X-RateLimit-Reset"]) > 0
    assert stream_slots_held(tenant=analyst.tenant, user=analyst.user) == 0


def test_a_model_failing_midway_still_settles_and_bills_the_partial_answer(
    analyst, corpus, llm_env
):
    llm_env.script(drop_after(3, ANSWER), api="anthropic")
    body = ask(analyst, CAPEX).json()
    assert body["error"]["code"] == "provider_failed_midstream"
    rows = ledger_of(body["query_id"])
    summary = rows[-1]
    assert summary.status == "error"
    model_rows = [r for r in rows if r.kind == "model"]
    assert model_rows[0].status == "error"
    assert model_rows[0].output_tokens > 0  # estimated from the streamed text
    assert summary.cost_usd == sum(r.cost_usd for r in rows[:-1]) > 0
    assert_released(analyst, body["query_id"])


def test_a_client_closing_the_stream_early_settles_as_interrupted(analyst, corpus, llm_env):
    llm_env.script(slow(ANSWER, delay=0.2), api="anthropic")
    response = ask(analyst, CAPEX, HTTP_ACCEPT="text/event-stream")

    async def disconnect_after_first_token() -> str:
        # What the ASGI server does when the client goes away: cancel the task streaming it.
        seen: dict[str, str] = {}
        first_token = asyncio.Event()

        async def consume() -> None:
            async for chunk in response.streaming_content:
                frame = json.loads(chunk.decode().split("data: ", 1)[1])
                if frame["type"] == "start":
                    seen["query_id"] = frame["query_id"]
                if frame["type"] == "token":
                    first_token.set()

        task = asyncio.create_task(consume())
        await first_token.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return seen["query_id"]

    query_id = async_to_sync(disconnect_after_first_token)()
    summary = LedgerEntry.objects.get(query_id=query_id, kind="query")
    assert summary.status == "interrupted"
    interrupted = LedgerEntry.objects.get(query_id=query_id, kind="model")
    assert interrupted.status == "interrupted"
    assert interrupted.cost_usd > 0
    assert_released(analyst, query_id)


def test_the_answers_cost_equals_the_ledger_for_the_free_offline_chain(analyst, corpus):
    body = ask(analyst, CAPEX).json()
    assert body["provider"] == "offline"
    assert Decimal(body["cost_usd"]) == 0
    assert Decimal(body["estimated_cost_usd"]) == 0
    rows = ledger_of(body["query_id"])
    assert [r.kind for r in rows] == ["embedding", "model", "query"]
    assert rows[-1].input_tokens > 0  # tokens still count against the allowance
    assert (
        tenant_period(analyst.tenant).spent_tokens == rows[-1].input_tokens + rows[-1].output_tokens
    )
    assert_released(analyst, body["query_id"])


def test_unknown_query_ids_are_not_found_in_the_cost_endpoint(analyst):
    response = analyst.client().get(f"/api/v1/billing/queries/{uuid.uuid4()}")
    assert response.status_code == 404


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_websocket_question_over_the_rate_limit_gets_an_error_frame(analyst):
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from agents.services import conversation_create
    from config.asgi import application

    await database_sync_to_async(Tenant.objects.filter(pk=analyst.tenant.pk).update)(
        requests_per_minute_user_override=0
    )
    conversation = await database_sync_to_async(conversation_create)(
        tenant=analyst.tenant, user=analyst.user
    )
    ws = WebsocketCommunicator(
        application,
        f"/ws/conversations/{conversation.pk}/",
        headers=[
            (b"origin", b"http://testserver"),
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {analyst.raw_key}".encode()),
        ],
    )
    connected, _ = await ws.connect()
    assert connected
    await ws.send_json_to({"type": "ask", "question": CAPEX})
    frame = await ws.receive_json_from(timeout=10)
    assert frame["type"] == "error"
    assert frame["error"]["code"] == "rate_limited"
    assert frame["error"]["details"]["retry_after"] >= 1
    assert frame["error"]["details"]["scope"] == "user"
    await ws.disconnect()
