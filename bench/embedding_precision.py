"""Does bf16 document embedding change what search finds? fp32 and bf16 side by side, real filings.

Run: python -m bench.embedding_precision. Ingests a few FinanceBench filings (the small earnings
releases and 8-Ks that carry most of its questions, and AMD's 2015 10-K, whose text layer holds
NUL bytes) into two tenants of a scratch database (finrag_bench_precision): one with fp32 document
vectors, one with bf16. Every FinanceBench question about them is searched in both; prints page
hit@5 for each (evidence_page_num + 1 is the PDF's page) and how often the two rankings agree.
Writes bench/results/embedding_precision.json.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from bench._django import django_setup, scratch_database_drop

SCRATCH_DATABASE = "finrag_bench_precision"
DATA = Path(os.environ.get("FINRAG_FINANCEBENCH_DIR", "/work/shared/data/financebench-dev"))
FILINGS = (
    "ULTABEAUTY_2023Q4_EARNINGS",
    "MGMRESORTS_2022Q4_EARNINGS",
    "FOOTLOCKER_2022_8K_dated-2022-05-20",
    "FOOTLOCKER_2022_8K_dated_2022-08-19",
    "AMD_2015_10K",
)
RESULT_PATH = Path(__file__).resolve().parent / "results" / "embedding_precision.json"


def main() -> dict[str, Any] | None:
    if not (DATA / "pdfs").is_dir():
        print(f"Skipped: no FinanceBench filings under {DATA}.")
        return None
    info = {
        row["doc_name"]: row
        for row in map(json.loads, (DATA / "financebench_document_information.jsonl").open())
    }
    questions = [
        row
        for row in map(json.loads, (DATA / "financebench_open_source.jsonl").open())
        if row["doc_name"] in FILINGS
    ]
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    started = time.perf_counter()
    django_setup(scratch_database=SCRATCH_DATABASE)
    logging.getLogger("celery").setLevel(logging.WARNING)
    try:
        from accounts.services import tenant_create
        from retrieval.embeddings import MiniLMEmbedder
        from retrieval.selectors import chunk_search
        from retrieval.services import DocumentMetadata, document_ingest, document_register

        ranked: dict[str, list[list[tuple[str, int]]]] = {}
        statuses: dict[str, dict[str, str]] = {}
        for precision in ("fp32", "bf16"):
            embedder = MiniLMEmbedder(precision=precision)
            tenant, _ = tenant_create(slug=f"precision-{precision}", tier_slug="enterprise")
            statuses[precision] = {}
            for name in FILINGS:
                meta = info[name]
                document, _ = document_register(
                    tenant=tenant,
                    user=None,
                    data=(DATA / "pdfs" / f"{name}.pdf").read_bytes(),
                    filename=f"{name}.pdf",
                    metadata=DocumentMetadata(
                        company=meta["company"], fiscal_year=int(meta["doc_period"])
                    ),
                    queue=False,
                )
                outcome = document_ingest(document_id=document.pk, embedder=embedder)
                statuses[precision][name] = outcome.status
            ranked[precision] = []
            for question in questions:
                found = chunk_search(tenant=tenant, query=question["question"][:2000], k=10)
                ranked[precision].append([(hit.source, hit.page) for hit in found.hits])
    finally:
        scratch_database_drop(SCRATCH_DATABASE)

    def hit_at_5(pages: list[tuple[str, int]], question: dict[str, Any]) -> bool:
        gold = {
            (f"{e['doc_name']}.pdf", int(e["evidence_page_num"]) + 1) for e in question["evidence"]
        }
        top: list[tuple[str, int]] = []
        for page in pages:
            if page not in top:
                top.append(page)
        return bool(gold & set(top[:5]))

    hits = {
        p: sum(hit_at_5(r, q) for r, q in zip(ranked[p], questions, strict=True)) for p in ranked
    }
    same_top5 = sum(a[:5] == b[:5] for a, b in zip(ranked["fp32"], ranked["bf16"], strict=True))
    overlap = [
        len(set(a) & set(b)) / max(1, len(set(a) | set(b)))
        for a, b in zip(ranked["fp32"], ranked["bf16"], strict=True)
    ]
    result = {
        "benchmark": "embedding_precision",
        "filings": statuses,
        "questions": len(questions),
        "page_hit_at_5": {p: hits[p] / max(1, len(questions)) for p in hits},
        "identical_top5_pages": same_top5,
        "mean_jaccard_top10_pages": sum(overlap) / max(1, len(overlap)),
        "runtime_s": time.perf_counter() - started,
    }
    RESULT_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULT_PATH.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
