"""Chat in a browser: streaming, citations, Stop, offline and failover labels, refusals, keys."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.models import Tenant
from agents.models import Feedback, Message
from agents.providers.offline import OFFLINE_MODEL
from tests.browser.conftest import PHONE, WIDE
from tests.fakes.llm_server import server_error, slow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FILING = (
    "Glueworks Corp annual report for fiscal 2018.\n\nItem 1. Business\n\n"
    "Glueworks makes industrial adhesives for packaging and construction.\n\f"
    "Item 7. Management's Discussion and Analysis\n\n"
    "Net sales were $32,765 million in fiscal 2018, up 3% on fiscal 2017.\n"
    "Capital expenditures were $1,577 million in fiscal 2018.\n"
    "The company returned $6,000 million to shareholders through dividends and buybacks.\n"
)
GLUEWORKS = {
    "title": "Glueworks 2018 10-K",
    "company": "Glueworks Corp",
    "ticker": "GLUE",
    "doc_type": "10-K",
    "fiscal_year": 2018,
    "fiscal_period": "FY",
}
STREAMED = (
    "Glueworks spent $1,577 million on capital expenditures in fiscal 2018 [1]. "
    "Net sales were $32,765 million in fiscal 2018, up 3% on fiscal 2017 [1]."
)
# Reads the answer while it is still streaming (aria-busy), or null until there is text.
PARTIAL_ANSWER = """() => {
  const text = document.querySelector('.answer[aria-busy="true"] .answer-text');
  return text && text.textContent.length > 0 ? text.textContent : null;
}"""


def start_conversation(browser, *, company: str | None = None) -> None:
    """Open the chat page, optionally scoped: its question box starts a conversation with the
    first question asked there."""
    page = browser.page
    browser.go("/chat/")
    if company:
        page.get_by_text("Limit to companies, document types or years").click()
        page.get_by_label(company).check()
    expect(page.get_by_label("Ask a question")).to_be_visible()


@pytest.mark.parametrize("viewport", [WIDE, PHONE], indirect=True, ids=["1280", "390"])
def test_an_answer_streams_token_by_token_and_a_citation_opens_its_passage(
    browser, make_member, ingested, live_stack
):
    member = make_member("acme", "analyst", tier="pro")
    ingested(member.tenant, FILING, **GLUEWORKS)
    live_stack.llm.script(slow(STREAMED, delay=0.12), api="anthropic")
    browser.sign_in(member.user.email)
    start_conversation(browser, company="Glueworks Corp (GLUE)")
    page = browser.page

    box = page.get_by_label("Ask a question")
    box.fill("Glueworks capital expenditures")
    box.press("Shift+Enter")
    box.press_sequentially("in fiscal 2018?")
    assert box.input_value() == "Glueworks capital expenditures\nin fiscal 2018?"
    expect(page.locator(".turn")).to_have_count(0)
    box.press("Enter")
    expect(page.locator(".scope-line")).to_contain_text("Glueworks Corp")

    partial = page.wait_for_function(PARTIAL_ANSWER, timeout=60_000).json_value()
    expect(page.get_by_role("button", name="Stop")).to_be_enabled()
    browser.shot("streaming")
    answer = page.locator(".answer").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=60_000)
    assert STREAMED.startswith(partial)
    assert len(partial) < len(STREAMED), "the whole answer arrived at once"
    expect(box).to_have_value("")
    expect(page.get_by_role("button", name="Stop")).to_be_disabled()

    meta = answer.locator(".answer-meta")
    expect(meta).to_contain_text("anthropic")
    expect(meta).to_contain_text("out tokens")
    expect(meta).to_contain_text("$")
    expect(answer.locator(".feedback button")).to_have_count(7)
    expect(answer.locator(".answer-scope")).to_contain_text("Glueworks Corp")
    expect(page.locator("#conversation-title")).to_contain_text("Glueworks capital expenditures")
    browser.shot("answered")

    answer.get_by_role("button", name="Yes").click()
    expect(answer.locator(".fb-status")).to_have_text("Now rate its cost efficiency.")
    answer.get_by_role("button", name="Cost efficiency 4 of 5").click()
    expect(answer.locator(".fb-status")).to_have_text("Feedback saved.")
    feedback = Feedback.objects.get()
    assert (feedback.accuracy, feedback.cost_efficiency) == (True, 4)
    conversation_url = page.url

    marker = answer.locator("a.cite").first
    marker.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#passage-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#passage-title")).to_have_text("Glueworks 2018 10-K")
    expect(dialog.locator("#passage-meta")).to_contain_text("page 2")
    expect(dialog.locator("mark", has_text="1,577")).to_be_visible()
    browser.shot("citation")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    marker.click()
    dialog.get_by_role("link", name="Open this page of the document").click()
    expect(page.get_by_role("heading", name="Page 2")).to_be_visible()
    expect(page.locator(".passage-cited")).to_contain_text("1,577")
    browser.shot("cited-page")

    page.goto(conversation_url)
    saved = page.locator(".answer").last
    expect(saved.locator("a.cite")).to_have_count(2)
    expect(saved.locator(".sources li")).to_have_count(1)
    expect(saved.get_by_role("button", name="Cost efficiency 4 of 5")).to_have_attribute(
        "aria-pressed", "true"
    )


def test_stop_ends_a_streaming_answer_midway_and_keeps_the_partial_answer(
    browser, make_member, ingested, live_stack
):
    member = make_member("acme", "analyst", tier="pro")
    ingested(member.tenant, FILING, **GLUEWORKS)
    long_answer = " ".join(f"word{i}" for i in range(400))
    live_stack.llm.script(slow(long_answer, delay=0.05), api="anthropic")
    browser.sign_in(member.user.email)
    start_conversation(browser)
    page = browser.page

    page.get_by_label("Ask a question").fill("Summarise Glueworks' fiscal 2018 results")
    page.get_by_role("button", name="Send").click()
    page.wait_for_function(
        "() => (document.querySelector('.answer[aria-busy=\"true\"] .answer-text')"
        "?.textContent || '').trim().split(/\\s+/).length > 5",
        timeout=60_000,
    )
    page.get_by_role("button", name="Stop").click()

    answer = page.locator(".answer").last
    expect(answer).to_have_attribute("data-status", "interrupted")
    expect(answer).to_contain_text("Stopped before the end")
    expect(answer.locator(".answer-meta")).to_contain_text("anthropic")
    browser.shot("stopped")
    shown = answer.locator(".answer-text").inner_text().split()
    assert 5 < len(shown) < 400
    upstream = live_stack.llm.requests_for("anthropic")[0]
    assert upstream.client_closed.wait(10), "the provider stream was not closed"

    saved = Message.objects.get(role="assistant")
    assert saved.status == Message.Status.INTERRUPTED
    page.reload()
    expect(page.locator(".answer").last).to_contain_text("Stopped before the end")


def test_offline_answers_are_labelled_and_cite_the_filing(browser, make_member, ingested):
    member = make_member("freeco", "analyst", tier="free")
    ingested(member.tenant, FILING, **GLUEWORKS)
    browser.sign_in(member.user.email)
    start_conversation(browser)
    page = browser.page

    page.get_by_label("Ask a question").fill("What were Glueworks capital expenditures in 2018?")
    page.get_by_label("Ask a question").press("Enter")
    answer = page.locator(".answer").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=60_000)
    expect(answer.locator(".badge-offline")).to_have_text("Offline")
    expect(answer.locator(".answer-meta")).to_contain_text(OFFLINE_MODEL)
    expect(answer.locator(".answer-text")).to_contain_text("1,577")
    expect(answer.locator("a.cite").first).to_be_visible()
    browser.shot("offline")


def test_a_failover_to_the_next_provider_is_shown_on_the_answer(
    browser, make_member, ingested, live_stack
):
    member = make_member("acme", "analyst", tier="pro")
    ingested(member.tenant, FILING, **GLUEWORKS)
    live_stack.llm.script(server_error(500), api="anthropic")
    browser.sign_in(member.user.email)
    start_conversation(browser)
    page = browser.page

    page.get_by_label("Ask a question").fill("Glueworks net sales 2018")
    page.get_by_label("Ask a question").press("Enter")
    answer = page.locator(".answer").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=60_000)
    expect(answer.locator(".badge-warn")).to_contain_text("anthropic → openai")
    expect(answer.locator(".answer-meta")).to_contain_text("openai")
    browser.shot("failover")
    page.reload()
    expect(page.locator(".answer").last.locator(".badge-warn")).to_contain_text("anthropic")


@pytest.mark.parametrize("viewport", [WIDE, PHONE], indirect=True, ids=["1280", "390"])
def test_a_question_refused_for_an_exhausted_budget_says_why_and_what_to_do(
    browser, make_member, ingested
):
    member = make_member("acme", "analyst", tier="pro")
    ingested(member.tenant, FILING, **GLUEWORKS)
    Tenant.objects.filter(pk=member.tenant.pk).update(monthly_budget_usd_override=Decimal(0))
    browser.sign_in(member.user.email)
    start_conversation(browser)
    page = browser.page
    question = "Glueworks net sales 2018"

    page.get_by_label("Ask a question").fill(question)
    page.get_by_label("Ask a question").press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("monthly budget")
    expect(alert).to_contain_text("an owner or admin can raise the budget")
    expect(alert.get_by_role("link", name="See what was spent")).to_have_attribute(
        "href", "/usage/"
    )
    expect(page.get_by_label("Ask a question")).to_have_value(question)
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    browser.shot("budget-exhausted")
    assert not Message.objects.exists()


def test_a_rate_limited_question_says_how_long_to_wait(browser, make_member, ingested):
    member = make_member("acme", "analyst", tier="free")
    ingested(member.tenant, FILING, **GLUEWORKS)
    Tenant.objects.filter(pk=member.tenant.pk).update(requests_per_minute_user_override=1)
    browser.sign_in(member.user.email)
    start_conversation(browser)
    page = browser.page
    box = page.get_by_label("Ask a question")

    box.fill("Glueworks net sales 2018")
    box.press("Enter")
    expect(page.locator(".answer").last).to_have_attribute("data-status", "complete")
    box.fill("Glueworks capital expenditures 2018")
    box.press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("more questions in the last minute than your plan allows")
    expect(alert).to_contain_text("seconds, then ask again")
    browser.shot("rate-limited")


def test_keyboard_alone_signs_in_asks_and_opens_a_citation(browser, make_member, ingested):
    member = make_member("freeco", "analyst", tier="free")
    ingested(member.tenant, FILING, **GLUEWORKS)
    page = browser.page
    browser.go("/login/")
    page.keyboard.type(member.user.email)  # the email field has the focus on arrival
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse battery staple")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="New conversation")).to_be_visible()
    assert browser.unlabelled_controls() == []

    # The question box has the focus on arrival: the first question goes straight from here.
    page.keyboard.type("What were Glueworks capital expenditures in fiscal 2018?")
    page.keyboard.press("Enter")
    answer = page.locator(".answer").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=60_000)
    assert browser.unlabelled_controls() == []

    browser.tab_to("a.cite")
    page.keyboard.press("Enter")
    expect(page.locator("#passage-dialog")).to_be_visible()
    expect(page.locator("#passage-dialog mark").first).to_contain_text("1,577")
    page.keyboard.press("Escape")
    expect(page.locator("#passage-dialog")).to_be_hidden()
    browser.tab_to("button.fb[data-value='true']")
    page.keyboard.press("Enter")
    browser.tab_to("button.fb[data-value='5']")
    page.keyboard.press("Enter")
    expect(answer.locator(".fb-status")).to_have_text("Feedback saved.")
    browser.shot("keyboard")
