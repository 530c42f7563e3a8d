"""The page classifier on real pages of the shared filings (read at test time from
../shared/data, never copied into the repository)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from retrieval.finance.lexicon import PageType
from retrieval.finance.pages import classify_page, page_types_from_chunks, statement_scores
from retrieval.parsing import normalise_page_text

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
FILINGS = DATA / "financebench-dev" / "pdfs"
AMD_10K = FILINGS / "AMD_2015_10K.pdf"

pytestmark = pytest.mark.skipif(
    not AMD_10K.exists(), reason=f"the shared filings are not at {DATA} (../shared/data)"
)


@lru_cache(maxsize=64)
def filing_page(filing: str, number: int) -> str:
    """Page `number` (1-based) of a shared FinanceBench filing, as the parser normalises it."""
    import pypdf

    reader = pypdf.PdfReader(str(FILINGS / f"{filing}.pdf"))
    return normalise_page_text(reader.pages[number - 1].extract_text() or "")


def page_text(number: int) -> str:
    """Page `number` (1-based) of AMD's FY2015 10-K, as the parser normalises it."""
    return filing_page("AMD_2015_10K", number)


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (56, PageType.INCOME_STATEMENT),  # Consolidated Statements of Operations
        (57, PageType.COMPREHENSIVE_INCOME),
        (58, PageType.BALANCE_SHEET),
        (59, PageType.EQUITY_STATEMENT),
        (60, PageType.CASH_FLOW),
    ],
)
def test_classifier_names_each_primary_statement_of_a_real_10k(page, expected):
    assert classify_page(page_text(page), "ITEM 8. FINANCIAL STATEMENTS", page) == expected


def test_a_note_about_balance_sheet_items_is_a_note_not_the_balance_sheet():
    # "NOTE 5: Supplemental Balance Sheet Information" holds inventory rows but is a note.
    assert classify_page(page_text(68), "", 68) == PageType.NOTES


def test_the_table_of_contents_and_the_cover_are_recognised():
    assert classify_page(page_text(2), "", 2) == PageType.CONTENTS
    assert classify_page(page_text(1), "", 1) == PageType.COVER


def test_prose_pages_take_their_type_from_the_item_heading():
    mda = "Revenue decreased because of lower sales of our products. " * 10
    assert classify_page(mda, "ITEM 7. MANAGEMENT'S DISCUSSION AND ANALYSIS", 40) == PageType.MDA
    assert classify_page(mda, "ITEM 1A. RISK FACTORS", 20) == PageType.RISK_FACTORS
    assert classify_page(mda, "Item 2. Management's Discussion and Analysis", 30) == PageType.MDA


def test_cash_flow_line_items_outweigh_other_statements_on_the_cash_flow_page():
    scores = statement_scores(page_text(60))

    assert scores[PageType.CASH_FLOW] == max(scores.values())
    assert scores[PageType.CASH_FLOW] >= 6


def test_pages_classified_from_their_chunks_match_the_whole_page():
    text = page_text(58)
    lines = text.splitlines()
    half = len(lines) // 2
    # Two chunks of one page with an overlapping line, as the chunker cuts them.
    chunks = [(58, "ITEM 8", "\n".join(lines[: half + 1])), (58, "ITEM 8", "\n".join(lines[half:]))]

    assert page_types_from_chunks(chunks) == {58: PageType.BALANCE_SHEET}


def test_selected_financial_data_with_a_balance_sheet_block_is_not_the_balance_sheet():
    # Lockheed Martin's Item 6 table carries "Balance sheet" rows (total assets, current
    # liabilities) but the statement itself is in Item 8.
    text = filing_page("LOCKHEEDMARTIN_2021_10K", 30)
    section = "ITEM 6. Selected Financial Data"

    assert classify_page(text, section, 30) == PageType.SELECTED_DATA
    statement = filing_page("LOCKHEEDMARTIN_2021_10K", 68)
    assert classify_page(statement, "ITEM 8. Financial Statements", 68) == PageType.BALANCE_SHEET


def test_a_guarantors_condensed_consolidating_statements_are_a_note():
    # Kraft Heinz's Note 25 reprints the balance sheet per guarantor column.
    text = filing_page("KRAFTHEINZ_2019_10K", 114)

    assert classify_page(text, "", 114) == PageType.NOTES
    assert classify_page(filing_page("KRAFTHEINZ_2019_10K", 52), "", 52) == PageType.BALANCE_SHEET


def test_an_mda_heading_naming_the_balance_sheet_is_not_the_statement():
    # "Consolidated balance sheets and cash flows analysis" opens an MD&A section of JPM's 10-Q.
    text = filing_page("JPMORGAN_2021Q1_10Q", 12)

    assert classify_page(text, "", 12) != PageType.BALANCE_SHEET
    assert classify_page(filing_page("JPMORGAN_2021Q1_10Q", 81), "", 81) == PageType.BALANCE_SHEET


def test_a_shareholder_vote_reported_on_form_8k_is_a_governance_page():
    text = filing_page("FOOTLOCKER_2022_8K_dated-2022-05-20", 2)
    section = "Item 5.07. Submission of Matters to a Vote of Security Holders."

    assert classify_page(text, section, 2) == PageType.GOVERNANCE
