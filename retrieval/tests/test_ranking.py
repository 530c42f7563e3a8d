"""Fusion, query expansion, lexical re-ranking and page aggregation of search candidates."""

from __future__ import annotations

import pytest

from retrieval.ranking import (
    Candidate,
    aggregate_pages,
    candidate_idf,
    content_terms,
    expand_query,
    lexical_features,
    numbers_in,
    rerank,
    weighted_rrf,
)


def _candidate(chunk_id: int, text: str, *, page: int = 1, score: float = 0.0, doc: str = "d"):
    return Candidate(chunk_id=chunk_id, document_id=doc, page=page, text=text, score=score)


def test_rrf_rewards_items_ranked_well_by_both_lists():
    fused = weighted_rrf({"dense": ["a", "b", "c"], "lexical": ["b", "c", "d"]})

    assert [item for item, _ in fused] == ["b", "c", "a", "d"]
    assert dict(fused)["b"] == pytest.approx(1 / 62 + 1 / 61)


def test_rrf_weights_scale_each_list_and_zero_drops_it():
    fused = weighted_rrf(
        {"dense": ["a", "b"], "lexical": ["b", "z"]}, {"dense": 2.0, "lexical": 0.0}
    )

    assert [item for item, _ in fused] == ["a", "b"]
    assert dict(fused)["a"] == pytest.approx(2 / 61)


def test_expand_query_adds_filing_wording_for_analyst_terms():
    expanded = expand_query("What was Apple's revenue and capex?")

    assert expanded.startswith("What was Apple's revenue and capex?")
    assert "net sales" in expanded
    assert "purchases of property and equipment" in expanded
    assert expand_query("Where is the head office?") == "Where is the head office?"


def test_numbers_are_normalised_so_table_cells_match_question_numbers():
    assert numbers_in("Total $ 1,234.50 in 2009 and 7%") == {"1234.5", "2009", "7"}


def test_content_terms_drop_stopwords_and_fold_plurals():
    assert content_terms("What were the total revenues of the segments in 2009?") == [
        "revenu",
        "segment",
    ]


def test_lexical_features_see_terms_numbers_rows_and_phrases():
    question = "what is the interest expense in 2009?"
    text = "Interest expense | 2009 | 2008\nInterest expense | 380 | 420\nOther text."

    features = lexical_features(question, text)

    assert features.coverage == pytest.approx(1.0)
    assert features.numbers == pytest.approx(1.0)
    assert features.table_row == pytest.approx(1.0)
    assert features.phrase == pytest.approx(1.0)
    assert lexical_features(question, "Nothing relevant here.").coverage == 0.0


def test_candidate_idf_weighs_rare_terms_above_shared_ones():
    idf = candidate_idf(
        "apple libor rate", ["apple sales", "apple margin", "apple libor rate plus 2.05%"]
    )

    assert idf["libor"] > idf["apple"]


def test_rerank_lifts_the_chunk_whose_table_row_answers_the_question():
    question = "what was total rent expense for fiscal 2012?"
    candidates = [
        _candidate(1, "We lease offices in Danvers and Aachen.", page=50, score=0.033),
        _candidate(2, "Our leases are operating leases.", page=51, score=0.032),
        _candidate(3, "Rent expense | 2012 | 2011\nRent expense | 1.1 | 1.0", page=79, score=0.016),
    ]

    reranked = rerank(question, candidates, lexical=True, pages=False)

    assert reranked[0].chunk_id == 3
    assert len(reranked) == 3


def test_rerank_without_lexical_or_pages_keeps_the_fused_order():
    candidates = [_candidate(i, f"text {i}", page=i, score=1.0 - i / 10) for i in range(5)]

    reranked = rerank("anything", candidates, lexical=False, pages=False)

    assert [c.chunk_id for c in reranked] == [0, 1, 2, 3, 4]


def test_page_aggregation_keeps_one_chunk_per_page_and_rewards_repeated_matches():
    candidates = [
        _candidate(1, "a", page=10, score=0.9),
        _candidate(2, "b", page=20, score=0.8),
        _candidate(3, "c", page=20, score=0.7),
        _candidate(4, "d", page=20, score=0.6),
        _candidate(5, "e", page=10, score=0.1, doc="other"),
    ]

    pages = aggregate_pages(candidates, sibling_weight=0.2)

    assert [(c.document_id, c.page, c.chunk_id) for c in pages] == [
        ("d", 20, 2),
        ("d", 10, 1),
        ("other", 10, 5),
    ]
    assert pages[0].score == pytest.approx(0.8 + 0.2 * (0.7 + 0.6))


def test_rerank_of_an_empty_list_is_empty():
    assert rerank("q", []) == []


def _page(chunk_id: int, page: int, kind: str, text: str, *, score: float, doc: str = "d"):
    return Candidate(
        chunk_id=chunk_id, document_id=doc, page=page, text=text, score=score, page_type=kind
    )


def test_a_ratio_over_two_statements_brings_both_statement_pages_to_the_top():
    from retrieval.ranking import StatementEvidence

    question = "What is the inventory turnover ratio?"
    candidates = [
        _page(1, 40, "mda", "Inventory turnover improved as inventories fell.", score=1.0),
        _page(2, 41, "mda", "Inventory turnover ratio discussion of inventory levels.", score=0.9),
        _page(3, 12, "risk_factors", "Inventory risk and turnover.", score=0.8),
        _page(4, 58, "balance_sheet", "Inventories | 678 | 685", score=0.1),
        _page(5, 56, "income_statement", "Cost of sales | 2,911 | 3,667", score=0.05),
    ]
    evidence = StatementEvidence(
        implied=("income_statement", "balance_sheet"),
        line_items=(("inventories",), ("cost of sales",)),
    )

    ranked = rerank(question, candidates, evidence=evidence)

    assert {c.page for c in ranked[:2]} == {56, 58}


def test_a_single_implied_statement_is_a_hint_not_a_guaranteed_place():
    from retrieval.ranking import StatementEvidence

    evidence = StatementEvidence(implied=("income_statement",))

    assert evidence.needed == ()
    assert StatementEvidence(named=("balance_sheet",)).needed == ("balance_sheet",)


def test_the_named_statement_page_outranks_prose_about_the_same_metric():
    from retrieval.ranking import StatementEvidence

    candidates = [
        _page(1, 40, "mda", "Capital expenditures were higher this year than last.", score=1.0),
        _page(2, 60, "cash_flow", "Purchases of property, plant and equipment | (96)", score=0.9),
        _page(3, 12, "risk_factors", "Our business depends on suppliers.", score=0.0),
    ]
    evidence = StatementEvidence(
        named=("cash_flow",),
        line_items=(("capital expenditures", "purchases of property, plant and equipment"),),
    )

    ranked = rerank("What was capital expenditure in 2015?", candidates, evidence=evidence)

    assert ranked[0].page == 60


def test_full_text_query_ors_content_words_and_quotes_line_item_phrases():
    from retrieval.ranking import full_text_query

    query = full_text_query("What is the FY2016 COGS?", ["cost of sales"])

    assert query == 'cogs or "cost of sales"'


def test_a_topic_lifts_the_page_that_treats_it_and_the_kind_of_filing_that_carries_it():
    from retrieval.ranking import StatementEvidence

    question = "Which region had the highest Adjusted EBITDAR?"
    candidates = [
        Candidate(1, "10-K", 40, "Adjusted EBITDAR rose in the year.", 1.0, doc_type="10-K"),
        Candidate(
            2,
            "release",
            13,
            "SUPPLEMENTAL DATA - ADJUSTED PROPERTY EBITDAR\nLas Vegas | 3,142 | 1,738",
            0.9,
            doc_type="earnings_release",
        ),
        Candidate(3, "10-K", 12, "Risks of regional economies.", 0.6, doc_type="10-K"),
    ]
    evidence = StatementEvidence(
        page_words=(("reconciliation", "adjusted property ebitdar"),),
        doc_types=("earnings_release",),
    )

    assert rerank(question, candidates)[0].page == 40
    assert rerank(question, candidates, evidence=evidence)[0].page == 13


def test_a_topics_page_type_outranks_other_pages_of_the_same_filing():
    from retrieval.ranking import StatementEvidence

    candidates = [
        _page(1, 30, "notes", "Nominees to the board are described in the proxy.", score=1.0),
        _page(2, 2, "governance", "Name | Votes For | Votes Against", score=0.9),
        _page(3, 12, "risk_factors", "Our business depends on suppliers.", score=0.0),
    ]
    evidence = StatementEvidence(page_types=("governance",))
    question = "Which nominees had the most votes against?"

    assert rerank(question, candidates)[0].page == 30
    assert rerank(question, candidates, evidence=evidence)[0].page == 2


def test_a_line_item_run_into_prose_by_the_text_layer_still_counts_as_evidence():
    from retrieval.ranking import StatementEvidence

    candidates = [
        _page(1, 18, "other", "Net revenue by segment is discussed below.", score=1.0),
        _page(
            2,
            19,
            "other",
            "(in millions) 2021 2020 Change Total net revenue $ 12,517 $ 13,287 (6) %",
            score=0.9,
        ),
        _page(3, 30, "other", "Net revenue grew in every segment this quarter.", score=0.0),
    ]
    evidence = StatementEvidence(line_items=(("total revenue", "net revenue"),))
    question = "Which segment had the lowest net revenue?"

    assert rerank(question, candidates)[0].page == 18
    assert rerank(question, candidates, evidence=evidence)[0].page == 19
