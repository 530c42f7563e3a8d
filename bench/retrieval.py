"""Retrieval quality on real filings through the product's own path (ingest + chunk_search).

    python -m bench.retrieval [--sets financebench,finqa,tenq] [--reuse] [--keep] [--k 10]

Ingests each shared set into a scratch database with document_register/document_ingest, asks its
questions through chunk_search with no document chosen by hand, and prints per set hit@1/5/10 and
MRR of the gold page, document hit@5, "all gold pages in top 10" and a table of the misses.

- financebench: the 31 FinanceBench dev filings in ONE workspace; gold = the evidence pages
  (zero-based upstream, 1-based here). Company, ticker, year and form come from the document list
  as upload metadata a user would type; nothing is taken from the question.
- finqa: fin_qa.csv questions about the three full uda-finhybrid reports (gold: the page in q_uid).
- tenq: the 195 reviewed docugami 10-Q questions (gold: the documents named by `Source Docs`).

finqa and tenq share one workspace (23 filings), as before. A filing that fails to ingest counts
as a miss for its questions and is reported. --reuse keeps the scratch database (and its
embedding cache) from an earlier --keep run, so ranking changes re-run in minutes; --database NAME
runs on another copy (CREATE DATABASE copy TEMPLATE finrag_bench_retrieval), since --reuse rewrites
the page types it stores. Skips with a message when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("FINRAG_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
TENQ = DATA / "filings" / "docugami-sec-10q"
FINQA = DATA / "uda-finhybrid"
FINANCEBENCH = DATA / "financebench-dev"
RESULTS = ROOT / "bench" / "results" / "retrieval.json"
SCRATCH = "finrag_bench_retrieval"
SETS = ("financebench", "finqa", "tenq")

COMPANIES = {
    "AAPL": ("Apple Inc.", ("Apple",)),
    "AMZN": ("Amazon.com, Inc.", ("Amazon",)),
    "INTC": ("Intel Corporation", ("Intel",)),
    "MSFT": ("Microsoft Corporation", ("Microsoft",)),
    "NVDA": ("NVIDIA Corporation", ("NVIDIA", "Nvidia")),
    "ABMD": ("Abiomed, Inc.", ("Abiomed",)),
    "ADI": ("Analog Devices, Inc.", ("Analog Devices",)),
    "GS": ("The Goldman Sachs Group, Inc.", ("Goldman Sachs", "Goldman")),
}
ANNUAL = {"ABMD_2012": ("ABMD", 2012), "ADI_2009": ("ADI", 2009), "GS_2016": ("GS", 2016)}
# The ticker a user would type next to the company name FinanceBench's document list gives.
FINANCEBENCH_TICKERS = {
    "AMD": "AMD",
    "American Water Works": "AWK",
    "Coca-Cola": "KO",
    "Costco": "COST",
    "Foot Locker": "FL",
    "JPMorgan": "JPM",
    "Kraft Heinz": "KHC",
    "Lockheed Martin": "LMT",
    "MGM Resorts": "MGM",
    "Microsoft": "MSFT",
    "Netflix": "NFLX",
    "Nike": "NKE",
    "Ulta Beauty": "ULTA",
    "Walmart": "WMT",
}
FINANCEBENCH_FORMS = {"10k": "10-K", "10q": "10-Q", "8k": "8-K", "earnings": "earnings_release"}


@dataclass(frozen=True)
class Question:
    text: str
    gold_sources: frozenset[str]
    gold_pages: frozenset[int] = frozenset()
    document: str | None = None  # the filing the question is about, when there is one
    company: str = ""

    @property
    def page_gold(self) -> bool:
        return bool(self.gold_pages)


@dataclass(frozen=True)
class Filing:
    path: Path
    title: str
    company: str
    ticker: str
    aliases: tuple[str, ...]
    doc_type: str
    fiscal_year: int
    fiscal_period: str


@dataclass
class IngestReport:
    ids: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def tenq_questions() -> list[Question]:
    names = sorted(p.name for p in (TENQ / "docs").glob("*.pdf"))
    out = []
    with (TENQ / "qna_data.csv").open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            pattern = row["Source Docs"].strip()
            gold = frozenset(n for n in names if fnmatch.fnmatch(n, pattern))
            gold = gold or frozenset(n for n in names if fnmatch.fnmatch(n, pattern + ".pdf"))
            out.append(Question(text=row["Question"].strip(), gold_sources=gold))
    return out


def finqa_questions() -> list[Question]:
    out = []
    with (FINQA / "fin_qa.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="|"):
            if row["doc_name"] in ANNUAL:
                match = re.search(r"page_(\d+)", row["q_uid"])
                if match:
                    out.append(
                        Question(
                            text=row["question"].strip(),
                            gold_sources=frozenset({row["doc_name"] + ".pdf"}),
                            gold_pages=frozenset({int(match.group(1))}),
                            document=row["doc_name"] + ".pdf",
                            company=ANNUAL[row["doc_name"]][0],
                        )
                    )
    return out


def financebench_questions() -> list[Question]:
    out = []
    with (FINANCEBENCH / "financebench_open_source.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            source = row["doc_name"] + ".pdf"
            pages = frozenset(
                int(e["evidence_page_num"]) + 1
                for e in row["evidence"]
                if e.get("evidence_doc_name", row["doc_name"]) == row["doc_name"]
            )
            out.append(
                Question(
                    text=row["question"].strip(),
                    gold_sources=frozenset({source}),
                    gold_pages=pages,
                    document=source,
                    company=row["doc_name"].split("_")[0],
                )
            )
    return out


def tenq_finqa_filings() -> list[Filing]:
    files = []
    for path in sorted((TENQ / "docs").glob("*.pdf")):
        year, quarter, ticker = path.stem.split()
        name, aliases = COMPANIES[ticker]
        files.append(
            Filing(
                path,
                f"{name} 10-Q {quarter} {year}",
                name,
                ticker,
                aliases,
                "10-Q",
                int(year),
                quarter,
            )
        )
    for stem, (annual_ticker, annual_year) in ANNUAL.items():
        name, aliases = COMPANIES[annual_ticker]
        files.append(
            Filing(
                FINQA / "docs" / f"{stem}.pdf",
                f"{name} annual report {annual_year}",
                name,
                annual_ticker,
                aliases,
                "10-K",
                annual_year,
                "FY",
            )
        )
    return files


def financebench_filings(only: set[str] | None = None) -> list[Filing]:
    files = []
    with (FINANCEBENCH / "financebench_document_information.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if only is not None and row["doc_name"] not in only:
                continue
            form = FINANCEBENCH_FORMS[row["doc_type"].lower()]
            quarter = re.search(r"\d{4}(Q[1-4])", row["doc_name"])
            period = quarter.group(1) if quarter else ("FY" if form == "10-K" else "")
            company = row["company"]
            files.append(
                Filing(
                    FINANCEBENCH / "pdfs" / f"{row['doc_name']}.pdf",
                    f"{company} {form} {row['doc_period']} {period}".strip(),
                    company,
                    FINANCEBENCH_TICKERS.get(company, ""),
                    (),
                    form,
                    int(row["doc_period"]),
                    period,
                )
            )
    return files


def ingest(tenant: Any, filings: Sequence[Filing], *, skip: bool = False) -> IngestReport:
    """Register and ingest each filing; a failure is recorded, never fatal.

    Documents already ready (a --reuse run) get their page types re-read from their chunks, so
    a classifier change needs no re-embedding. With `skip`, only what is stored is looked up.
    """
    from retrieval.models import Document
    from retrieval.services import (
        DocumentMetadata,
        document_ingest,
        document_page_types_refresh,
        document_register,
    )

    report = IngestReport()
    if skip:
        for filing in filings:
            document = Document.objects.filter(tenant=tenant, source=filing.path.name).first()
            if document is None or document.status != Document.Status.READY:
                report.failed[filing.path.name] = "not ingested"
            if document is not None:
                report.ids[filing.path.name] = document.pk
                document_page_types_refresh(document_id=document.pk)
        return report
    started = time.perf_counter()
    for number, filing in enumerate(filings, start=1):
        metadata = DocumentMetadata(
            title=filing.title,
            company=filing.company,
            ticker=filing.ticker,
            aliases=filing.aliases,
            doc_type=filing.doc_type,
            fiscal_year=filing.fiscal_year,
            fiscal_period=filing.fiscal_period,
        )
        document, _ = document_register(
            tenant=tenant,
            user=None,
            data=filing.path.read_bytes(),
            filename=filing.path.name,
            metadata=metadata,
            queue=False,
        )
        report.ids[filing.path.name] = document.pk
        if document.status == Document.Status.READY:
            document_page_types_refresh(document_id=document.pk)
            continue
        one = time.perf_counter()
        try:
            outcome = document_ingest(document_id=document.pk)
            status, detail = outcome.status, f"{outcome.chunks} chunks"
            if status != Document.Status.READY:
                report.failed[filing.path.name] = outcome.error or status
        except Exception as exc:
            status, detail = "crashed", f"{type(exc).__name__}: {str(exc)[:120]}"
            report.failed[filing.path.name] = detail
            Document.objects.filter(pk=document.pk).update(status=Document.Status.FAILED)
        report.seconds[filing.path.name] = round(time.perf_counter() - one, 1)
        print(
            f"  [{number}/{len(filings)}] {filing.path.name}: {status}, {detail} "
            f"({time.perf_counter() - one:.0f} s, total {time.perf_counter() - started:.0f} s)",
            file=sys.stderr,
        )
    return report


def _page_type(document_id: int, page: int) -> str:
    from retrieval.models import Chunk

    row = (
        Chunk.objects.filter(document_id=document_id, page_start=page)
        .values_list("page_type", flat=True)
        .first()
        if hasattr(Chunk, "page_type")
        else None
    )
    return str(row or "")


@dataclass(frozen=True)
class Outcome:
    question: Question
    doc_rank: int | None
    page_rank: int | None
    all_in_10: bool
    first: tuple[str, int] | None
    first_type: str


def evaluate(
    tenant: Any, questions: Sequence[Question], *, k: int, in_document: bool, ids: dict[str, int]
) -> tuple[dict[str, Any], list[Outcome]]:
    from retrieval.contracts import SearchFilters
    from retrieval.selectors import chunk_search

    outcomes: list[Outcome] = []
    latencies = []
    for question in questions:
        filters = None
        if in_document and question.document:
            filters = SearchFilters(document_ids=(ids.get(question.document, 0),))
        started = time.perf_counter()
        result = chunk_search(tenant=tenant, query=question.text, k=k, filters=filters)
        latencies.append((time.perf_counter() - started) * 1000)
        sources = list(dict.fromkeys(hit.source for hit in result.hits))
        doc_rank = next((i + 1 for i, s in enumerate(sources) if s in question.gold_sources), None)
        pages = list(dict.fromkeys((hit.source, hit.page, hit.document_id) for hit in result.hits))
        gold = [
            i + 1
            for i, (source, page, _) in enumerate(pages)
            if source in question.gold_sources and page in question.gold_pages
        ]
        first = pages[0] if pages else None
        outcomes.append(
            Outcome(
                question=question,
                doc_rank=doc_rank,
                page_rank=gold[0] if gold else None,
                all_in_10=bool(question.gold_pages)
                and question.gold_pages
                <= {page for source, page, _ in pages[:10] if source in question.gold_sources},
                first=(first[0], first[1]) if first else None,
                first_type=_page_type(first[2], first[1]) if first else "",
            )
        )
    page_outcomes = [o for o in outcomes if o.question.page_gold]
    return {
        "questions": len(questions),
        "document": summarise([o.doc_rank for o in outcomes]),
        "page": summarise([o.page_rank for o in page_outcomes]) if page_outcomes else None,
        "all_gold_pages_in_10": (
            round(sum(o.all_in_10 for o in page_outcomes) / len(page_outcomes), 3)
            if page_outcomes
            else None
        ),
        "latency_ms_p50": round(statistics.median(latencies), 1),
        "latency_ms_p95": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 1),
    }, outcomes


def halves(outcomes: Sequence[Outcome]) -> dict[str, dict[str, Any]]:
    """Page figures on two halves of the companies (alternating in alphabetical order), to see
    whether a ranking change carries from the companies it was tried on to the others."""
    companies = sorted({o.question.company for o in outcomes})
    split = {
        "A": set(companies[0::2]),
        "B": set(companies[1::2]),
    }
    out = {}
    for name, members in split.items():
        ranks = [o.page_rank for o in outcomes if o.question.company in members]
        out[name] = {"companies": sorted(members), "questions": len(ranks), **summarise(ranks)}
    return out


def summarise(ranks: Sequence[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    return {
        "hit@1": round(sum(1 for r in ranks if r and r <= 1) / n, 3),
        "hit@5": round(sum(1 for r in ranks if r and r <= 5) / n, 3),
        "hit@10": round(sum(1 for r in ranks if r and r <= 10) / n, 3),
        "mrr": round(sum(1 / r for r in ranks if r) / n, 3),
    }


def print_misses(name: str, outcomes: Sequence[Outcome], *, k: int = 5) -> None:
    misses = [
        o for o in outcomes if o.question.page_gold and not (o.page_rank and o.page_rank <= k)
    ]
    if not misses:
        return
    print(f"\nMisses of {name} (gold page not in the top {k}):")
    print("| question | gold | gold rank | first | first page type |")
    print("|---|---|---|---|---|")
    for o in misses:
        gold = f"{o.question.document} p.{','.join(map(str, sorted(o.question.gold_pages)))}"
        first = f"{o.first[0]} p.{o.first[1]}" if o.first else "-"
        text = o.question.text.replace("|", "/").replace("\n", " ")
        print(f"| {text[:90]} | {gold} | {o.page_rank or '-'} | {first} | {o.first_type or '-'} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ",".join(SETS))
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept scratch database")
    parser.add_argument(
        "--database",
        default=SCRATCH,
        help=f"the scratch database's name (default {SCRATCH}; a copy lets two runs differ)",
    )
    parser.add_argument("--label", default="product")
    parser.add_argument(
        "--ready-only", action="store_true", help="ask only about filings that are ingested"
    )
    parser.add_argument(
        "--no-ingest",
        action="store_true",
        help="evaluate what a kept database holds, ingest nothing",
    )
    args = parser.parse_args(argv)
    sets = [s for s in args.sets.split(",") if s]
    if not FINANCEBENCH.exists() or not TENQ.exists() or not FINQA.exists():
        print(f"Skipping: the shared data sets are not at {DATA}.")
        return 0
    from bench._django import django_setup, scratch_database_drop

    if args.reuse:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
        from django.conf import settings

        settings.DATABASES["default"]["NAME"] = args.database
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
    else:
        django_setup(scratch_database=args.database)
    from accounts.services import tenant_create

    report: dict[str, Any] = {"label": args.label, "k": args.k}
    rows: list[tuple[str, dict[str, Any], dict[str, str]]] = []
    all_outcomes: dict[str, list[Outcome]] = {}
    if "financebench" in sets:
        tenant, _ = tenant_create(slug="financebench", tier_slug="enterprise")
        print("Ingesting FinanceBench dev (31 filings)...", file=sys.stderr)
        ingested = ingest(tenant, financebench_filings(), skip=args.no_ingest)
        questions = financebench_questions()
        if args.ready_only:
            questions = [q for q in questions if q.document not in ingested.failed]
        part, outcomes = evaluate(tenant, questions, k=args.k, in_document=False, ids=ingested.ids)
        part["halves"] = halves(outcomes)
        part["failed_filings"] = ingested.failed
        part["ingest_seconds"] = ingested.seconds
        report["financebench"] = part
        rows.append(("financebench", part, ingested.failed))
        all_outcomes["financebench"] = outcomes
    if "finqa" in sets or "tenq" in sets:
        tenant, _ = tenant_create(slug="bench", tier_slug="enterprise")
        filings = tenq_finqa_filings()
        if "tenq" not in sets:  # the FinQA reports alone: a quicker, smaller corpus
            filings = [f for f in filings if f.doc_type == "10-K"]
        print(f"Ingesting {len(filings)} filings (10-Qs and FinQA reports)...", file=sys.stderr)
        ingested = ingest(tenant, filings, skip=args.no_ingest)
        if "tenq" in sets:
            part, outcomes = evaluate(
                tenant, tenq_questions(), k=args.k, in_document=False, ids=ingested.ids
            )
            report["tenq_document"] = part
            rows.append(("tenq_document", part, ingested.failed))
        if "finqa" in sets:
            asked = finqa_questions()
            if args.ready_only:
                asked = [q for q in asked if q.document not in ingested.failed]
            for name, inside in (("finqa_corpus", False), ("finqa_in_document", True)):
                part, outcomes = evaluate(
                    tenant, asked, k=args.k, in_document=inside, ids=ingested.ids
                )
                report[name] = part
                rows.append((name, part, ingested.failed))
                all_outcomes[name] = outcomes
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    runs = [r for r in runs if r.get("label") != args.label] + [report]
    RESULTS.write_text(json.dumps(runs, indent=2) + "\n")
    print(
        "| set | questions | page hit@1 | hit@5 | hit@10 | MRR | all gold in 10 | doc hit@5 "
        "| failed filings |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, part, failed in rows:
        page = part["page"] or {}
        print(
            f"| {name} | {part['questions']} | {page.get('hit@1', '-')} "
            f"| {page.get('hit@5', '-')} | {page.get('hit@10', '-')} | {page.get('mrr', '-')} "
            f"| {part['all_gold_pages_in_10'] or '-'} | {part['document']['hit@5']} "
            f"| {len(failed)} |"
        )
    for name, part, _ in rows:
        for half, figures in (part.get("halves") or {}).items():
            print(
                f"{name} half {half} ({', '.join(figures['companies'])}): "
                f"{figures['questions']} questions, page hit@5 {figures['hit@5']}, "
                f"MRR {figures['mrr']}"
            )
    for name, outcomes in all_outcomes.items():
        print_misses(name, outcomes)
    for name, _, failed in rows:
        for source, reason in failed.items():
            print(f"{name}: {source} failed to ingest: {reason}")
    if not args.keep:
        scratch_database_drop(args.database)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
