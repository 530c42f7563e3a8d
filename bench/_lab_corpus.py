"""Retrieval lab data: the shared filings, their metadata, parsed pages and gold questions."""

from __future__ import annotations

import csv
import fnmatch
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from retrieval.parsing import ParsedPage, parse_document
from retrieval.scoping import CompanyEntry

DATA = Path(os.environ.get("LAB_DATA", "/work/shared/data"))
WORK = Path(os.environ.get("LAB_WORK", Path(tempfile.gettempdir()) / "retrieval-lab"))
TENQ_DIR = DATA / "filings" / "docugami-sec-10q"
FINQA_DIR = DATA / "uda-finhybrid"
FINQA_DOCS = ("ABMD_2012", "ADI_2009", "GS_2016")

COMPANIES: tuple[CompanyEntry, ...] = (
    CompanyEntry(id=1, name="Apple Inc.", ticker="AAPL", aliases=()),
    CompanyEntry(id=2, name="Amazon.com, Inc.", ticker="AMZN", aliases=("Amazon",)),
    CompanyEntry(id=3, name="Intel Corporation", ticker="INTC", aliases=()),
    CompanyEntry(id=4, name="Microsoft Corporation", ticker="MSFT", aliases=()),
    CompanyEntry(id=5, name="NVIDIA Corporation", ticker="NVDA", aliases=()),
    CompanyEntry(id=6, name="Abiomed, Inc.", ticker="ABMD", aliases=()),
    CompanyEntry(id=7, name="Analog Devices, Inc.", ticker="ADI", aliases=("ADI",)),
    CompanyEntry(id=8, name="The Goldman Sachs Group, Inc.", ticker="GS", aliases=("Goldman",)),
)
_BY_TICKER = {c.ticker: c for c in COMPANIES}


@dataclass(frozen=True)
class LabDoc:
    doc_id: str
    path: Path
    company: CompanyEntry
    fiscal_year: int
    fiscal_quarter: int | None
    form: str

    @property
    def period(self) -> str:
        if self.fiscal_quarter:
            return f"Q{self.fiscal_quarter} {self.fiscal_year}"
        return f"fiscal {self.fiscal_year}"


@dataclass(frozen=True)
class TenQQuestion:
    question: str
    gold_docs: frozenset[str]
    qtype: str
    chunk_type: str
    answer: str = ""


@dataclass(frozen=True)
class FinQAQuestion:
    question: str
    doc_id: str
    gold_page: int
    q_uid: str


def lab_docs() -> list[LabDoc]:
    docs: list[LabDoc] = []
    for path in sorted((TENQ_DIR / "docs").glob("*.pdf")):
        year, quarter, ticker = path.stem.split(" ")
        docs.append(
            LabDoc(
                doc_id=path.stem,
                path=path,
                company=_BY_TICKER[ticker],
                fiscal_year=int(year),
                fiscal_quarter=int(quarter[1]),
                form="10-Q",
            )
        )
    for name in FINQA_DOCS:
        ticker, year = name.split("_")
        docs.append(
            LabDoc(
                doc_id=name,
                path=FINQA_DIR / "docs" / f"{name}.pdf",
                company=_BY_TICKER[ticker],
                fiscal_year=int(year),
                fiscal_quarter=None,
                form="10-K",
            )
        )
    return docs


def parsed_pages(doc: LabDoc) -> list[ParsedPage]:
    """Pages of `doc` through retrieval.parsing, cached as JSON under the lab work dir."""
    cache = WORK / "parsed" / f"{doc.doc_id}.json"
    if cache.exists() and cache.stat().st_mtime > _parser_mtime():
        return [ParsedPage(**p) for p in json.loads(cache.read_text())]
    parsed = parse_document(
        data=doc.path.read_bytes(), filename=doc.path.name, content_type=None, max_bytes=100 << 20
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps([p.__dict__ for p in parsed.pages]))
    return list(parsed.pages)


def _parser_mtime() -> float:
    import retrieval.parsing

    return max(
        path.stat().st_mtime for path in Path(retrieval.parsing.__file__).parent.glob("*.py")
    )


def tenq_questions() -> list[TenQQuestion]:
    names = [p.stem for p in (TENQ_DIR / "docs").glob("*.pdf")]
    out: list[TenQQuestion] = []
    with (TENQ_DIR / "qna_data.csv").open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            pattern = row["Source Docs"].strip()
            gold = frozenset(n for n in names if fnmatch.fnmatch(n + ".pdf", pattern)) or frozenset(
                n for n in names if fnmatch.fnmatch(n, pattern)
            )
            if not gold:
                raise ValueError(f"no document matches {pattern!r}")
            out.append(
                TenQQuestion(
                    question=row["Question"].strip(),
                    gold_docs=gold,
                    qtype=row["Question Type"],
                    chunk_type=row["Source Chunk Type"],
                    answer=row["Answer"],
                )
            )
    return out


def finqa_questions() -> list[FinQAQuestion]:
    out: list[FinQAQuestion] = []
    with (FINQA_DIR / "fin_qa.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="|"):
            if row["doc_name"] not in FINQA_DOCS:
                continue
            # Verified against bench_fin_qa.json contexts (GS) and page text (ABMD, ADI): the
            # q_uid page is the 1-based index of the page in the PDF, not the printed number.
            page = int(re.search(r"page_(\d+)", row["q_uid"]).group(1))
            out.append(FinQAQuestion(row["question"], row["doc_name"], page, row["q_uid"]))
    return out


_ANSWER_NUMBER = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+(?:\.\d+)?)(?!\d)")


def tenq_silver_pages(question: TenQQuestion, max_pages: int = 4) -> frozenset[tuple[str, int]]:
    """Pages of a single-document 10-Q question that print a number its reviewed answer cites.

    There is no page gold for the 10-Q set; an amount like "82,959" in the answer pins the
    table it was read from. Empty (question skipped) for multi-document questions, answers
    without such amounts, or amounts that appear on more than `max_pages` pages.
    """
    if len(question.gold_docs) != 1:
        return frozenset()
    numbers = set(_ANSWER_NUMBER.findall(question.answer))
    if not numbers:
        return frozenset()
    (doc_id,) = question.gold_docs
    doc = next(d for d in lab_docs() if d.doc_id == doc_id)
    pages = frozenset(
        (doc_id, page.number)
        for page in parsed_pages(doc)
        if any(re.search(rf"(?<![\d,]){re.escape(n)}(?!\d)", page.text) for n in numbers)
    )
    return pages if len(pages) <= max_pages else frozenset()
