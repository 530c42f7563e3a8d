"""Checks that the bundled demo corpus is complete, labelled as demo data and answers its README."""

import json
import re
from datetime import date
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parent.parent / "demo_corpus"
DISCLAIMER = (
    "Demo document written for this project from publicly reported figures; not an SEC filing."
)
MANIFEST_FIELDS = {
    "file",
    "title",
    "company",
    "ticker",
    "aliases",
    "cik",
    "doc_type",
    "fiscal_year",
    "fiscal_period",
    "period_end",
    "filing_date",
    "source_url",
}


def _manifest() -> list[dict]:
    return json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))


def _pages(filename: str) -> list[str]:
    return (CORPUS / filename).read_text(encoding="utf-8").split("\f")


def _readme_examples() -> list[dict[str, str]]:
    """Rows of the README's example-question table, keyed by its header."""
    lines = (CORPUS / "README.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| #"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    header, body = rows[0], rows[2:]
    return [dict(zip(header, row, strict=True)) for row in body]


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_manifest_lists_every_document_in_the_corpus_and_nothing_else():
    listed = [entry["file"] for entry in _manifest()]
    on_disk = sorted(path.name for path in CORPUS.glob("*.md") if path.name != "README.md")
    assert sorted(listed) == on_disk
    assert len(listed) == len(set(listed)) == 12


def test_every_manifest_entry_has_the_full_metadata_with_sensible_values():
    for entry in _manifest():
        assert set(entry) == MANIFEST_FIELDS, entry["file"]
        assert (CORPUS / entry["file"]).is_file()
        assert entry["doc_type"] == "10-K"
        assert entry["fiscal_period"] == "FY"
        assert entry["fiscal_year"] in {2018, 2019, 2020}
        assert re.fullmatch(r"\d{10}", entry["cik"])
        assert entry["source_url"] == (
            f"https://www.sec.gov/cgi-bin/browse-edgar?action=getcompany&CIK={entry['cik']}"
        )
        assert entry["ticker"] in entry["aliases"]
        period_end = date.fromisoformat(entry["period_end"])
        filing_date = date.fromisoformat(entry["filing_date"])
        assert period_end < filing_date
        # A fiscal year is named for the calendar year in which it ends.
        assert period_end.year == entry["fiscal_year"]


def test_the_corpus_covers_four_companies_over_three_fiscal_years():
    covered = {(entry["ticker"], entry["fiscal_year"]) for entry in _manifest()}
    assert covered == {
        (ticker, year) for ticker in ("MMM", "AAPL", "MSFT", "NVDA") for year in (2018, 2019, 2020)
    }


def test_each_company_keeps_one_cik_and_name_across_its_documents():
    by_ticker: dict[str, set[tuple[str, str]]] = {}
    for entry in _manifest():
        by_ticker.setdefault(entry["ticker"], set()).add((entry["cik"], entry["company"]))
    assert all(len(identities) == 1 for identities in by_ticker.values())


@pytest.mark.parametrize("entry", _manifest(), ids=lambda entry: entry["file"])
def test_every_document_has_at_least_three_form_feed_pages(entry):
    pages = _pages(entry["file"])
    assert len(pages) >= 3
    assert all(page.strip() for page in pages)


@pytest.mark.parametrize("entry", _manifest(), ids=lambda entry: entry["file"])
def test_every_document_opens_by_saying_it_is_a_demo_document(entry):
    first_line = _pages(entry["file"])[0].splitlines()[0]
    assert first_line == DISCLAIMER


@pytest.mark.parametrize("entry", _manifest(), ids=lambda entry: entry["file"])
def test_every_document_has_the_10k_style_items_and_names_its_company_and_year(entry):
    text = "\f".join(_pages(entry["file"]))
    for heading in ("## Item 1. Business overview", "## Item 7.", "## Item 8. Selected"):
        assert heading in text
    assert entry["company"] in text
    assert f"fiscal year {entry['fiscal_year']}" in text


def test_nvidia_documents_explain_that_fiscal_years_end_in_january():
    for entry in _manifest():
        if entry["ticker"] == "NVDA":
            first_page = _squash(_pages(entry["file"])[0])
            assert "fiscal year ends on the last Sunday of January" in first_page
            assert entry["period_end"].startswith(f"{entry['fiscal_year']}-01-")


def test_markdown_tables_have_aligned_columns():
    for entry in _manifest():
        for page in _pages(entry["file"]):
            block: list[str] = []
            for line in [*page.splitlines(), ""]:
                if line.startswith("|"):
                    block.append(line)
                    continue
                if block:
                    widths = {len(row) for row in block}
                    assert len(widths) == 1, (entry["file"], block[0])
                    block = []


def test_the_readme_lists_ten_example_questions():
    examples = _readme_examples()
    assert len(examples) == 10
    assert all(example["Question"].endswith("?") for example in examples)


@pytest.mark.parametrize(
    "example", _readme_examples(), ids=lambda example: f"question-{example['#']}"
)
def test_each_readme_answer_appears_on_the_page_the_readme_names(example):
    pages = _pages(example["Document"])
    page_number = int(example["Page"])
    assert 1 <= page_number <= len(pages)
    assert _squash(example["Expected answer"]) in _squash(pages[page_number - 1])


def test_the_capex_example_from_the_brief_is_answered_on_3m_fy2018_page_three():
    page = _squash(_pages("mmm_fy2018_annual_summary.md")[2])
    expected = (
        "Capital expenditures (purchases of property, plant and equipment) were $1,577 million"
    )
    assert expected in page
