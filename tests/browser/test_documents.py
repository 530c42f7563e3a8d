"""The library in a browser: multi-file upload, live ingestion progress, failures, filters."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from retrieval.models import Document
from tests.browser.conftest import PHONE, WIDE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROW_STATES = """() => {
  window.__rowStates = window.__rowStates || [];
  for (const row of document.querySelectorAll('#document-table tr[data-status]')) {
    window.__rowStates.push(row.dataset.status);
  }
  return window.__rowStates;
}"""


def annual_report(pages: int) -> str:
    """A plain-text filing long enough that ingesting it takes a visible moment."""
    sections = []
    for page in range(1, pages + 1):
        year = 2000 + page % 20
        sections.append(
            f"Widgets Inc annual report, page {page}.\n\n"
            + " ".join(
                f"In fiscal {year} segment {n} revenue was ${page * 100 + n:,} million and "
                f"operating margin was {n % 30 + 5}% after restructuring charges."
                for n in range(1, 25)
            )
        )
    return "\n\f".join(sections)


@pytest.mark.parametrize("viewport", [WIDE, PHONE], indirect=True, ids=["1280", "390"])
def test_uploaded_documents_show_live_progress_until_ready_or_failed(
    browser, make_member, tmp_path
):
    member = make_member("acme", "analyst", tier="pro")
    report = tmp_path / "widgets-2021-10k.txt"
    report.write_text(annual_report(pages=30))
    broken = tmp_path / "scan.pdf"
    broken.write_bytes(b"%PDF-1.7\nthis is not really a PDF\n%%EOF")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    browser.sign_in(member.user.email)
    browser.go("/documents/")
    page = browser.page

    expect(page.get_by_text("No documents yet")).to_be_visible()
    assert browser.unlabelled_controls() == []
    page.get_by_label("Files").set_input_files([report, broken, empty])
    page.get_by_label("Company").fill("Widgets Inc")
    page.get_by_label("Ticker").fill("wdgt")
    page.get_by_label("Type").first.select_option("10-K")
    page.get_by_label("Fiscal year").first.fill("2021")
    page.get_by_role("button", name="Upload").click()

    expect(page.get_by_text("Uploaded 2 documents")).to_be_visible()
    expect(page.get_by_text("empty.txt was not accepted: The file is empty.")).to_be_visible()
    page.evaluate("window.__notReloaded = true")
    first_states = page.evaluate(ROW_STATES)
    assert set(first_states) & {"queued", "processing"}, first_states
    browser.shot("uploading")

    ready = page.locator("tr", has_text="widgets-2021-10k.txt")
    failed = page.locator("tr", has_text="scan.pdf")
    for _ in range(600):
        page.evaluate(ROW_STATES)
        if ready.get_attribute("data-status") == "ready" and failed.get_attribute(
            "data-status"
        ) in ("failed", "ready"):
            break
        page.wait_for_timeout(200)
    expect(ready).to_have_attribute("data-status", "ready", timeout=1_000)
    expect(ready).to_contain_text("Widgets Inc")
    expect(ready).to_contain_text("WDGT")
    expect(ready).to_contain_text("passages")
    expect(failed).to_have_attribute("data-status", "failed")
    reason = Document.objects.get(source="scan.pdf").error_message
    assert reason
    expect(failed.locator(".failure")).to_have_text(reason)
    assert page.evaluate("window.__notReloaded") is True, "the page reloaded instead of polling"
    states = page.evaluate(ROW_STATES)
    assert "processing" in states or "queued" in states
    browser.shot("ingested")

    page.get_by_label("Status").select_option("failed")
    expect(page.locator("#document-table tbody tr")).to_have_count(1)
    expect(page).to_have_url(
        f"{browser.base_url}/documents/?company=&doc_type=&fiscal_year=&status=failed"
    )
    expect(page.locator("#document-table")).to_contain_text("scan.pdf")
    browser.shot("filtered")
