"""Quality gate: a reduced retrieval evaluation on real filings fails the suite below its floor.

Six FinanceBench filings (their questions asked in one workspace holding all six, nothing
chosen by hand) and one FinQA annual report go through the product's own ingestion and
chunk_search, scored as bench/retrieval.py scores the full sets.
"""

from __future__ import annotations

import pytest

from bench import retrieval as bench

# Floors set from the measured figures (docs/benchmarks.md, Retrieval, 2026-12-03 evening: all
# six FinanceBench questions and all twelve ABMD questions in the top 5). They only move up:
# raise them when ranking improves; a change that needs them lowered is a regression.
FLOORS = {
    "financebench_page_hit@5": 0.83,  # 6 questions: 5 of 6 in the top 5 at least
    "financebench_document_hit@5": 1.0,
    "finqa_page_hit@5": 0.80,
}
GATE_FINANCEBENCH = (
    "COSTCO_2021_10K",
    "MICROSOFT_2016_10K",
    "NETFLIX_2015_10K",
    "NETFLIX_2017_10K",
    # Question topics and kinds of filing: debt securities held as short-term investments (a
    # 10-Q note, not borrowings) and a shareholder vote asked with no company named (an 8-K).
    "MGMRESORTS_2023Q2_10Q",
    "FOOTLOCKER_2022_8K_dated-2022-05-20",
)
GATE_FINQA = "ABMD_2012"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (bench.FINANCEBENCH.exists() and bench.FINQA.exists()),
        reason=f"the shared data sets are not at {bench.DATA} (../shared/data); gate skipped",
    ),
]


@pytest.mark.timeout(1200)
@pytest.mark.django_db(transaction=True)
def test_retrieval_quality_stays_above_its_floor():
    from accounts.services import tenant_create

    tenant, _ = tenant_create(slug="quality-gate", tier_slug="enterprise")
    filings = bench.financebench_filings(set(GATE_FINANCEBENCH))
    annual = [f for f in bench.tenq_finqa_filings() if f.path.stem == GATE_FINQA]
    ingested = bench.ingest(tenant, [*filings, *annual])
    assert not ingested.failed, f"filings failed to ingest: {ingested.failed}"

    wanted = {f"{name}.pdf" for name in GATE_FINANCEBENCH}
    financebench_questions = [q for q in bench.financebench_questions() if q.document in wanted]
    finqa_questions = [q for q in bench.finqa_questions() if q.document == f"{GATE_FINQA}.pdf"]
    financebench, _ = bench.evaluate(
        tenant, financebench_questions, k=10, in_document=False, ids=ingested.ids
    )
    finqa, _ = bench.evaluate(tenant, finqa_questions, k=10, in_document=False, ids=ingested.ids)
    measured = {
        "financebench_page_hit@5": financebench["page"]["hit@5"],
        "financebench_document_hit@5": financebench["document"]["hit@5"],
        "finqa_page_hit@5": finqa["page"]["hit@5"],
    }

    print(f"retrieval quality gate, measured: {measured}")  # shown by pytest -rA
    below = {
        name: (measured[name], floor) for name, floor in FLOORS.items() if measured[name] < floor
    }
    assert not below, f"retrieval below its floor (measured, floor): {below}"
