"""Hybrid search: pages come back, filters and scoping apply, tenants never mix."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.services import tenant_create
from retrieval.contracts import SearchFilters
from retrieval.selectors import chunk_search, corpus_version_get
from retrieval.services import DocumentMetadata, document_ingest, document_register

pytestmark = pytest.mark.django_db


def filing(company: str, year: int, capex: int, sales: int) -> str:
    return (
        f"{company} annual report for fiscal {year}.\n\nItem 1. Business\n\n"
        f"{company} makes industrial adhesives and sells them worldwide.\n\f"
        "Item 7. Management's Discussion and Analysis\n\n"
        f"Net sales were ${sales:,} million in fiscal {year}.\n"
        f"Capital expenditures (purchases of property, plant and equipment) were "
        f"${capex:,} million in fiscal {year}.\n"
    )


def ingest(tenant, company, ticker, year, capex, sales):
    document, _ = document_register(
        tenant=tenant,
        user=None,
        data=filing(company, year, capex, sales).encode(),
        filename=f"{ticker}-{year}.txt",
        metadata=DocumentMetadata(
            title=f"{company} {year} 10-K",
            company=company,
            ticker=ticker,
            doc_type="10-K",
            fiscal_year=year,
            fiscal_period="FY",
        ),
        queue=False,
    )
    assert document_ingest(document_id=document.pk).status == "ready"
    return document


@pytest.fixture
def corpus(analyst):
    tenant = analyst.tenant
    docs = {
        ("GLUE", 2018): ingest(tenant, "Glueworks Corp", "GLUE", 2018, 1577, 32765),
        ("GLUE", 2019): ingest(tenant, "Glueworks Corp", "GLUE", 2019, 1699, 32136),
        ("TAPE", 2018): ingest(tenant, "Tapeline Inc", "TAPE", 2018, 402, 9100),
    }
    return analyst, docs


def test_search_returns_the_page_that_holds_the_answer(corpus):
    analyst, docs = corpus
    result = chunk_search(
        tenant=analyst.tenant, query="capital expenditures of Glueworks in fiscal 2018", k=5
    )
    top = result.hits[0]
    assert top.document_id == docs[("GLUE", 2018)].pk
    assert top.page == 2
    assert "1,577" in top.text


def test_question_naming_company_and_year_is_scoped_automatically(corpus):
    analyst, docs = corpus
    result = chunk_search(
        tenant=analyst.tenant, query="What was Glueworks' capital expenditure in FY2019?", k=10
    )
    assert result.scope.automatic
    assert "Glueworks Corp" in result.scope.description
    # A year opens a window (later annual reports restate earlier years) but the named year wins.
    assert "fiscal years 2018-2021" in result.scope.description
    assert {hit.ticker for hit in result.hits} == {"GLUE"}
    assert result.hits[0].document_id == docs[("GLUE", 2019)].pk
    assert "1,699" in result.hits[0].text


def test_ticker_in_the_question_scopes_to_that_company(corpus):
    analyst, _docs = corpus
    result = chunk_search(tenant=analyst.tenant, query="TAPE net sales", k=10)
    assert {hit.ticker for hit in result.hits} == {"TAPE"}


def test_explicit_filters_win_over_scoping(corpus):
    analyst, _docs = corpus
    result = chunk_search(
        tenant=analyst.tenant,
        query="What was Glueworks' capital expenditure in FY2019?",
        filters=SearchFilters(tickers=("TAPE",)),
    )
    assert not result.scope.automatic
    assert {hit.ticker for hit in result.hits} == {"TAPE"}


def test_scope_that_matches_nothing_is_widened_and_says_so(corpus):
    analyst, _ = corpus
    result = chunk_search(tenant=analyst.tenant, query="Tapeline net sales in FY2031", k=5)
    assert result.hits
    assert "widened" in result.scope.description


def test_another_tenant_never_sees_the_first_tenants_chunks(corpus, other_tenant_analyst):
    _, _ = corpus
    result = chunk_search(
        tenant=other_tenant_analyst.tenant, query="Glueworks capital expenditures", k=20
    )
    assert result.hits == ()
    response = other_tenant_analyst.client().post(
        "/api/v1/search", {"query": "Glueworks capital expenditures"}, format="json"
    )
    assert response.status_code == 200
    assert "Glueworks" not in response.content.decode()


def test_shared_library_is_visible_to_every_tenant(analyst, other_tenant_analyst):
    ingest(None, "Commonwealth Mills", "CWM", 2020, 55, 900)
    for member in (analyst, other_tenant_analyst):
        result = chunk_search(tenant=member.tenant, query="Commonwealth Mills net sales", k=3)
        assert result.hits
        assert result.hits[0].ticker == "CWM"


def test_search_api_rejects_empty_and_foreign_document_ids(corpus, other_tenant_analyst):
    analyst, docs = corpus
    empty = analyst.client().post("/api/v1/search", {"query": ""}, format="json")
    assert empty.status_code == 400
    assert empty.json()["error"]["code"] == "invalid_input"
    foreign = other_tenant_analyst.client().post(
        "/api/v1/search",
        {"query": "net sales", "document_ids": [docs[("GLUE", 2018)].pk]},
        format="json",
    )
    assert foreign.status_code == 400


def test_search_command_prints_json_hits_with_page_and_scope(corpus):
    out = StringIO()
    call_command(
        "search", "Glueworks capital expenditures 2018", "--tenant", "acme", "--json", stdout=out
    )
    hits = json.loads(out.getvalue())
    assert hits[0]["page"] == 2
    assert {"document", "source", "page", "score", "text", "scope"} <= set(hits[0])
    assert hits[0]["source"] == "GLUE-2018.txt"


def test_ingesting_changes_the_corpus_version(analyst):
    before = corpus_version_get(tenant=analyst.tenant)
    ingest(analyst.tenant, "Newco", "NEWC", 2021, 1, 2)
    assert corpus_version_get(tenant=analyst.tenant) != before
    other, _ = tenant_create(slug="unrelated", tier_slug="free")
    assert corpus_version_get(tenant=other) == "0.0"
