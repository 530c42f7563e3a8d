"""Retrieval quality on real filings through the product's own path (ingest + chunk_search).

    python -m bench.retrieval [--keep] [--reuse] [--k 10]

Ingests the 20 docugami 10-Q PDFs and the three full annual reports of uda-finhybrid into a
scratch database with document_register/document_ingest, then asks the 195 reviewed 10-Q
questions (gold: the documents named by `Source Docs`) and the fin_qa.csv questions about the
three reports (gold: the page in q_uid, the PDF's 1-based page index). Reports hit@1/5/10 and
MRR of the gold document and of the gold page (distinct pages in rank order). Skips with a
message when ../shared/data is absent.
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
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("FINRAG_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
TENQ = DATA / "filings" / "docugami-sec-10q"
FINQA = DATA / "uda-finhybrid"
RESULTS = ROOT / "bench" / "results" / "retrieval.json"
SCRATCH = "finrag_bench_retrieval"

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


@dataclass(frozen=True)
class Question:
    text: str
    gold_sources: frozenset[str]
    gold_page: int | None = None
    document: str | None = None  # for FinQA: the report the question is about


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
                            gold_page=int(match.group(1)),
                            document=row["doc_name"] + ".pdf",
                        )
                    )
    return out


def ingest(tenant) -> dict[str, int]:  # type: ignore[no-untyped-def]
    from retrieval.models import Document
    from retrieval.services import DocumentMetadata, document_ingest, document_register

    files: list[tuple[Path, DocumentMetadata]] = []
    for path in sorted((TENQ / "docs").glob("*.pdf")):
        year, quarter, ticker = path.stem.split()
        name, aliases = COMPANIES[ticker]
        files.append(
            (
                path,
                DocumentMetadata(
                    title=f"{name} 10-Q {quarter} {year}",
                    company=name,
                    ticker=ticker,
                    aliases=aliases,
                    doc_type="10-Q",
                    fiscal_year=int(year),
                    fiscal_period=quarter,
                ),
            )
        )
    for stem, (ticker, year) in ANNUAL.items():
        name, aliases = COMPANIES[ticker]
        files.append(
            (
                FINQA / "docs" / f"{stem}.pdf",
                DocumentMetadata(
                    title=f"{name} annual report {year}",
                    company=name,
                    ticker=ticker,
                    aliases=aliases,
                    doc_type="10-K",
                    fiscal_year=year,
                    fiscal_period="FY",
                ),
            )
        )
    ids = {}
    started = time.perf_counter()
    for number, (path, metadata) in enumerate(files, start=1):
        document, _ = document_register(
            tenant=tenant,
            user=None,
            data=path.read_bytes(),
            filename=path.name,
            metadata=metadata,
            queue=False,
        )
        if document.status != Document.Status.READY:
            outcome = document_ingest(document_id=document.pk)
            print(
                f"  [{number}/{len(files)}] {path.name}: {outcome.status}, {outcome.chunks} chunks "
                f"({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
            )
        ids[path.name] = document.pk
    return ids


def evaluate(tenant, questions: Sequence[Question], *, k: int, in_document: bool, ids):  # type: ignore[no-untyped-def]
    from retrieval.contracts import SearchFilters
    from retrieval.selectors import chunk_search

    doc_ranks: list[int | None] = []
    page_ranks: list[int | None] = []
    latencies = []
    for question in questions:
        filters = None
        if in_document and question.document:
            filters = SearchFilters(document_ids=(ids[question.document],))
        started = time.perf_counter()
        result = chunk_search(tenant=tenant, query=question.text, k=k, filters=filters)
        latencies.append((time.perf_counter() - started) * 1000)
        sources = list(dict.fromkeys(hit.source for hit in result.hits))
        doc_ranks.append(
            next((i + 1 for i, s in enumerate(sources) if s in question.gold_sources), None)
        )
        if question.gold_page is not None:
            pages = list(dict.fromkeys((hit.source, hit.page) for hit in result.hits))
            page_ranks.append(
                next(
                    (
                        i + 1
                        for i, (source, page) in enumerate(pages)
                        if source in question.gold_sources and page == question.gold_page
                    ),
                    None,
                )
            )
    return {
        "questions": len(questions),
        "document": summarise(doc_ranks),
        "page": summarise(page_ranks) if page_ranks else None,
        "latency_ms_p50": round(statistics.median(latencies), 1),
        "latency_ms_p95": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 1),
    }


def summarise(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks)
    return {
        "hit@1": round(sum(1 for r in ranks if r and r <= 1) / n, 3),
        "hit@5": round(sum(1 for r in ranks if r and r <= 5) / n, 3),
        "hit@10": round(sum(1 for r in ranks if r and r <= 10) / n, 3),
        "mrr": round(sum(1 / r for r in ranks if r) / n, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept scratch database")
    parser.add_argument("--label", default="product")
    args = parser.parse_args(argv)
    if not (TENQ / "qna_data.csv").exists() or not (FINQA / "fin_qa.csv").exists():
        print(f"Skipping: the shared data sets are not at {DATA}.")
        return 0
    from bench._django import django_setup, scratch_database_drop

    if args.reuse:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
        from django.conf import settings

        settings.DATABASES["default"]["NAME"] = SCRATCH
        import django

        django.setup()
    else:
        django_setup(scratch_database=SCRATCH)
    from accounts.services import tenant_create

    tenant, _ = tenant_create(slug="bench", tier_slug="enterprise")
    print("Ingesting (the first run embeds about 4,000 chunks)...", file=sys.stderr)
    ids = ingest(tenant)
    tenq, finqa = tenq_questions(), finqa_questions()
    report = {
        "label": args.label,
        "k": args.k,
        "tenq_document": evaluate(tenant, tenq, k=args.k, in_document=False, ids=ids),
        "finqa_corpus": evaluate(tenant, finqa, k=args.k, in_document=False, ids=ids),
        "finqa_in_document": evaluate(tenant, finqa, k=args.k, in_document=True, ids=ids),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    runs = [r for r in runs if r.get("label") != args.label] + [report]
    RESULTS.write_text(json.dumps(runs, indent=2) + "\n")
    print("| set | questions | gold | hit@1 | hit@5 | hit@10 | MRR | p95 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for name in ("tenq_document", "finqa_corpus", "finqa_in_document"):
        part = report[name]
        for gold in ("document", "page"):
            if part[gold] is None:
                continue
            m = part[gold]
            print(
                f"| {name} | {part['questions']} | {gold} | {m['hit@1']} | {m['hit@5']} | "
                f"{m['hit@10']} | {m['mrr']} | {part['latency_ms_p95']} |"
            )
    if not args.keep:
        scratch_database_drop(SCRATCH)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
