"""Figures checked at the end of a turn: the real SDK streams an answer from the fake API with a
correct and a wrong figure; the verdicts reach the REST JSON, the SSE frames (before `end`), the
checkpoint, the chat page, the exports and the metric."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.test import Client
from prometheus_client import REGISTRY

from agents.models import Checkpoint
from agents.tests.support import ask, glueworks_ingest, read_stream
from billing.pricing import price_cache_clear
from retrieval.services import DocumentMetadata, document_ingest, document_register
from tests.fakes.llm_server import (
    llm_env_fixture,  # noqa: F401 - pytest fixture
    llm_server_fixture,  # noqa: F401 - pytest fixture
    ok,
)

pytestmark = pytest.mark.django_db

DEMO_CORPUS = Path(__file__).resolve().parents[2] / "retrieval" / "demo_corpus"
QUESTION = "What were Glueworks' net sales and capital expenditures in fiscal 2018?"
# Net sales are right ($32.8 billion is $32,765 million rounded); capex is not ($1,577 million).
ANSWER = (
    "Glueworks' net sales were **$32.8 billion** in fiscal 2018 [1], and capital expenditures "
    "were $1,677 million [1]."
)


@pytest.fixture(autouse=True)
def _setup(analyst, llm_env, settings):
    price_cache_clear()
    settings.LLM_CHAINS = {"free": ["offline"], "pro": ["anthropic", "offline"]}
    glueworks_ingest(analyst.tenant)
    llm_env.script(ok(ANSWER), api="anthropic")
    yield
    price_cache_clear()


def figures_counted(verdict: str) -> float:
    return REGISTRY.get_sample_value("rag_answer_figures_total", {"verdict": verdict}) or 0.0


def test_the_answer_json_says_which_figure_its_sources_support(analyst):
    supported_before = figures_counted("supported")
    unsupported_before = figures_counted("unsupported")

    body = ask(analyst, QUESTION).json()

    assert body["error"] is None
    assert body["answer"] == ANSWER
    figures = body["verification"]["figures"]
    assert [(f["text"], f["verdict"], f["source"]) for f in figures] == [
        ("$32.8 billion", "supported", "[1]"),
        ("$1,677 million", "unsupported", ""),
    ]
    assert body["verification"]["summary"] == {"supported": 1, "calculated": 0, "unsupported": 1}
    assert ANSWER[figures[1]["start"] : figures[1]["end"]] == "$1,677 million"
    assert figures_counted("supported") == supported_before + 1
    assert figures_counted("unsupported") == unsupported_before + 1
    state = Checkpoint.objects.get(message_id=body["message_id"]).state
    assert state["verification"] == figures


def test_the_stream_sends_the_verdicts_after_the_citations_and_before_the_end(analyst):
    response = ask(analyst, QUESTION, HTTP_ACCEPT="text/event-stream")
    raw = async_to_sync(read_stream)(response).decode()

    names = [line.removeprefix("event: ") for line in raw.splitlines() if line.startswith("event:")]
    assert names.index("citation") < names.index("verification") < names.index("end")
    frame = next(
        json.loads(block.split("data: ", 1)[1])
        for block in raw.split("\n\n")
        if block.startswith("event: verification")
    )
    assert [f["verdict"] for f in frame["figures"]] == ["supported", "unsupported"]


def test_a_saved_answer_marks_the_unsupported_figure_on_the_page_and_in_exports(analyst):
    body = ask(analyst, QUESTION).json()
    conversation = body["conversation"]

    browser = Client()
    browser.force_login(analyst.user)
    page = browser.get(f"/chat/{conversation}/").content.decode()
    assert f'data-figures-id="figures-{body["message_id"]}"' in page
    assert "2 figures checked: 1 found in the sources, 1 not found in the cited sources." in page
    assert 'data-unsupported="1"' in page

    exported = analyst.client().get(f"/api/v1/conversations/{conversation}/export?format=json")
    answer = json.loads(exported.content)["messages"][-1]
    assert [f["verdict"] for f in answer["verification"]] == ["supported", "unsupported"]
    markdown = analyst.client().get(f"/api/v1/conversations/{conversation}/export?format=markdown")
    text = markdown.content.decode()
    assert "**$32.8 billion**" in text  # the answer keeps its Markdown
    assert "- $32.8 billion: found in [1]" in text
    assert "- $1,677 million: **not found in the cited sources**" in text


def test_manage_py_ask_names_the_figure_it_could_not_find(analyst):
    out = StringIO()

    call_command("ask", QUESTION, "--tenant", "acme", stdout=out)

    assert "Figures checked: 2; not found in the cited sources: $1,677 million" in out.getvalue()


def test_an_extractive_offline_answer_over_the_demo_filings_has_no_unsupported_figure(
    make_member,
):
    """The offline provider only quotes its passages, so the checker must find every figure it
    states: a flagged one here would be the checker's mistake, not the answer's."""
    member = make_member("freeco", "analyst", tier="free")
    manifest = json.loads((DEMO_CORPUS / "manifest.json").read_text())
    for entry in manifest:
        if entry["ticker"] != "AAPL" or entry["fiscal_year"] not in (2019, 2020):
            continue
        document, _ = document_register(
            tenant=member.tenant,
            user=None,
            data=(DEMO_CORPUS / entry["file"]).read_bytes(),
            filename=entry["file"],
            metadata=DocumentMetadata(
                title=entry["title"],
                company=entry["company"],
                ticker=entry["ticker"],
                doc_type=entry["doc_type"],
                fiscal_year=entry["fiscal_year"],
                fiscal_period=entry["fiscal_period"],
            ),
            queue=False,
        )
        document_ingest(document_id=document.pk)

    body = ask(
        member,
        "What was Apple's total net sales in fiscal 2020 and how did it compare to 2019?",
    ).json()

    assert body["offline"] is True
    figures = body["verification"]["figures"]
    assert any("274,515" in f["text"] for f in figures)
    assert [f for f in figures if f["verdict"] == "unsupported"] == []
