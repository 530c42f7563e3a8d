"""Calculations in a browser: the offline provider calls the calculator and shows its result."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_chat import GLUEWORKS, start_conversation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FILING = (
    "Glueworks Corp annual report for fiscal 2018.\n\nItem 1. Business\n\n"
    "Glueworks makes industrial adhesives for packaging and construction.\n\f"
    "Item 7. Management's Discussion and Analysis\n\n"
    "Capital expenditures were $1,577 million in fiscal 2018, compared with $1,373 million in "
    "fiscal 2017.\n"
    "Net sales were $32,765 million in fiscal 2018.\n"
)
CALCULATED = (
    "Calculated: Capital expenditures grew 14.86% from $1,373 million (fiscal 2017) to "
    "$1,577 million (fiscal 2018)"
)


def test_an_offline_growth_answer_lists_the_calculation_and_cites_its_figures(
    browser, make_member, ingested, live_stack
):
    member = make_member("freeco", "analyst", tier="free")
    ingested(member.tenant, FILING, **GLUEWORKS)
    browser.sign_in(member.user.email)
    start_conversation(browser)
    page = browser.page

    box = page.get_by_label("Ask a question")
    box.fill("By how much did Glueworks' capital expenditures grow from 2017 to 2018?")
    box.press("Enter")
    answer = page.locator(".answer").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=60_000)
    expect(answer.locator(".badge-offline")).to_have_text("Offline")

    calculations = answer.get_by_role("list", name="Calculations")
    expect(calculations.get_by_role("listitem")).to_have_text(
        ["growth_percent(old=1373, new=1577) = 14.86"]
    )
    # The citation marker renders as a link whose text is the passage number, and it ends the
    # calculated sentence: "... (fiscal 2018) 1."
    text = answer.locator(".answer-text")
    expect(text).to_contain_text(re.compile(re.escape(CALCULATED) + r" \d+\.$"))
    marker = text.locator("a.cite").last
    expect(marker).to_have_attribute("aria-label", re.compile(r"^Source \d+$"))
    browser.shot("calculated")

    marker.click()
    dialog = page.locator("#passage-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#passage-title")).to_have_text("Glueworks 2018 10-K")
    highlighted = dialog.locator("mark").filter(has_text="1,373")
    expect(highlighted).to_contain_text("1,577")
    page.keyboard.press("Escape")
    assert live_stack.llm.requests == [], "the free tier must answer without calling a model"
