"""The analyst's experience in a browser: ask at once, answers rendered as Markdown with checked
figures, and a citation opening the original PDF page with the cited text highlighted."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from retrieval.services import DocumentMetadata, document_ingest, document_register
from retrieval.tests.test_ingestion import make_pdf
from tests.browser.conftest import PHONE, WIDE
from tests.browser.test_chat import FILING, GLUEWORKS
from tests.fakes.llm_server import ok

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BOTH_WIDTHS = pytest.mark.parametrize("viewport", [WIDE, PHONE], indirect=True, ids=["1280", "390"])

# $1,677 million is wrong (the filing says $1,577 million); the image must never be fetched.
TABLE_ANSWER = (
    "Glueworks' **fiscal 2018** in figures:\n\n"
    "| Metric | FY2018 |\n"
    "| --- | --- |\n"
    "| Net sales | $32,765 million [1] |\n"
    "| Capital expenditures | $1,677 million [1] |\n\n"
    "- Returned to shareholders: *$6.0 billion* [1]\n"
    '<img src="http://tracker.example/pixel.png" onerror="document.title=\'pwned\'">'
)
PDF_PAGES = [
    "Glueworks Corp annual report for fiscal 2018.\nItem 1. Business\n"
    "Glueworks makes industrial adhesives for packaging and construction.",
    "Item 7. Management's Discussion and Analysis\n"
    "Net sales were $32,765 million in fiscal 2018, up 3% on fiscal 2017.\n"
    "Capital expenditures were $1,577 million in fiscal 2018.\n"
    "The company returned $6,000 million to shareholders through dividends and buybacks.",
]


def ingest_pdf(tenant) -> None:
    document, _ = document_register(
        tenant=tenant,
        user=None,
        data=make_pdf(PDF_PAGES),
        filename="glueworks-10k-2018.pdf",
        content_type="application/pdf",
        metadata=DocumentMetadata(**GLUEWORKS),
        queue=False,
    )
    document_ingest(document_id=document.pk)


@BOTH_WIDTHS
def test_the_first_question_goes_straight_from_the_chat_page(browser, make_member, ingested):
    member = make_member("freeco", "analyst", tier="free")
    ingested(member.tenant, FILING, **GLUEWORKS)
    browser.sign_in(member.user.email)
    page = browser.page

    expect(page).to_have_url(re.compile(r"/chat/$"))
    box = page.get_by_label("Ask a question")
    expect(box).to_be_focused()
    expect(page.get_by_role("button", name="Start conversation")).to_have_count(0)
    browser.shot("chat-page")
    box.fill("What were Glueworks capital expenditures in fiscal 2018?")
    page.get_by_role("button", name="Send").click()

    expect(page).to_have_url(re.compile(r"/chat/\d+/$"))
    answer = page.locator(".answer").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=60_000)
    expect(answer.locator(".answer-text")).to_contain_text("1,577")
    expect(page.locator("#conversation-title")).to_have_text(
        "What were Glueworks capital expenditures in fiscal 2018?"
    )
    expect(page.locator(".conversation-list")).to_contain_text("Glueworks capital expenditures")
    expect(page.get_by_label("Ask a question")).to_have_value("")
    # A reload shows the answer and does not ask again.
    page.reload()
    expect(page.locator(".turn")).to_have_count(1)
    assert browser.unlabelled_controls() == []


@BOTH_WIDTHS
def test_a_table_answer_renders_as_a_table_and_an_unsupported_figure_is_marked(
    browser, make_member, ingested, live_stack
):
    member = make_member("acme", "analyst", tier="pro")
    ingested(member.tenant, FILING, **GLUEWORKS)
    live_stack.llm.script(ok(TABLE_ANSWER), api="anthropic")
    browser.sign_in(member.user.email)
    page = browser.page
    box = page.get_by_label("Ask a question")
    box.fill("Glueworks net sales, capital expenditures and buybacks in fiscal 2018")
    box.press("Enter")

    answer = page.locator(".answer").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=60_000)

    def check_rendering() -> None:
        text = answer.locator(".answer-text")
        table = text.get_by_role("table")
        expect(table.get_by_role("columnheader")).to_have_text(["Metric", "FY2018"])
        expect(table.get_by_role("row")).to_have_count(3)
        expect(text.locator("strong")).to_have_text("fiscal 2018")
        expect(text.locator("li em")).to_have_text("$6.0 billion")
        expect(table.locator("a.cite")).to_have_count(2)
        expect(text).not_to_contain_text("|")
        expect(text).not_to_contain_text("**")
        expect(text.locator("img, script")).to_have_count(0)
        unsupported = text.locator("mark.figure-unsupported")
        expect(unsupported).to_have_count(1)
        expect(unsupported).to_contain_text("$1,677 million")
        expect(unsupported).to_have_attribute("title", "Not found in the cited sources")
        expect(text.locator(".figure-supported")).to_have_text(["$32,765 million", "$6.0 billion"])
        expect(answer.locator(".figure-summary")).to_have_text(
            "3 figures checked: 2 found in the sources, 1 not found in the cited sources."
        )

    check_rendering()
    assert page.title() != "pwned"
    browser.shot("verified-answer")
    answer.locator("table a.cite").first.click()
    expect(page.locator("#passage-dialog")).to_be_visible()
    page.keyboard.press("Escape")

    page.reload()  # a saved answer renders the same way
    answer = page.locator(".answer").last
    check_rendering()


@BOTH_WIDTHS
def test_a_citation_opens_the_original_pdf_page_with_the_cited_text_highlighted(
    browser, make_member
):
    member = make_member("freeco", "analyst", tier="free")
    ingest_pdf(member.tenant)
    browser.sign_in(member.user.email)
    page = browser.page
    box = page.get_by_label("Ask a question")
    box.fill("What were Glueworks capital expenditures in fiscal 2018?")
    box.press("Enter")
    answer = page.locator(".answer").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=60_000)

    answer.locator("a.cite").first.click()
    dialog = page.locator("#passage-dialog")
    expect(dialog.locator("mark", has_text="1,577")).to_be_visible()
    dialog.get_by_role("link", name="See the original page").click()

    expect(page.get_by_role("heading", name="Original, page 2 of 2")).to_be_visible()
    viewer = page.locator("#pdf-viewer")
    expect(viewer).to_have_attribute("data-state", "rendered", timeout=30_000)
    expect(page.locator(".pdf-status")).to_have_text("The cited text is highlighted on page 2.")
    highlight = page.locator(".pdf-highlight").first
    expect(highlight).to_be_visible()
    drawn = page.locator(".pdf-page canvas").bounding_box()
    assert drawn is not None
    assert drawn["width"] > 200
    assert drawn["height"] > 200
    marked = highlight.bounding_box()
    assert marked is not None
    assert drawn["y"] <= marked["y"] <= drawn["y"] + drawn["height"]
    # The extracted text stays beside the page, with the cited passage marked.
    expect(page.locator(".passage-cited")).to_contain_text("1,577")
    browser.shot("citation-pdf-page")
