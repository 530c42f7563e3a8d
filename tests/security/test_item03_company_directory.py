"""Item 3: one tenant's uploads cannot rewrite the company directory that scopes another
tenant's questions; names from uploads are checked and bounded; deleting an upload takes back
what it added; the upload's answer reveals nothing about other tenants' companies."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from retrieval.selectors import chunk_search, company_directory, corpus_version_get
from retrieval.services import DocumentMetadata, document_ingest, document_register

pytestmark = pytest.mark.django_db

QUESTION = "What was total revenue in fiscal 2019?"


def shared_filing(company: str, ticker: str, year: int, sales: int) -> None:
    text = (
        f"{company} annual report for fiscal {year}.\n\nItem 7. Management's Discussion\n\n"
        f"Total revenue (net sales) was ${sales:,} million in fiscal {year}.\n"
    )
    document, _ = document_register(
        tenant=None,
        user=None,
        data=text.encode(),
        filename=f"{ticker}-{year}.txt",
        metadata=DocumentMetadata(
            company=company, ticker=ticker, doc_type="10-K", fiscal_year=year, fiscal_period="FY"
        ),
        queue=False,
    )
    assert document_ingest(document_id=document.pk).status == "ready"


@pytest.fixture
def shared_library(db):
    shared_filing("Apple Inc.", "AAPL", 2019, 260174)
    shared_filing("Microsoft Corporation", "MSFT", 2019, 125843)


def json_filing(names: list[str], body: str = "Widgets were sold in fiscal 2019.") -> bytes:
    return json.dumps({"names": names, "item1": "Item 1. Business. " + body}).encode()


def upload(member, data: bytes, filename: str = "filing.json", **fields):
    """Upload through the REST API, as a tenant's script would, then run the ingestion the
    upload queued (the test's transaction never commits, so on_commit tasks do not fire)."""
    content_type = "application/json" if filename.endswith(".json") else "text/plain"
    response = member.client().post(
        "/api/v1/documents",
        {"files": [SimpleUploadedFile(filename, data, content_type)], **fields},
        format="multipart",
    )
    if response.status_code == 202:
        for document in response.json():
            assert document_ingest(document_id=document["id"]).status == "ready"
    return response


def aliases_of(member, name: str) -> tuple[str, ...]:
    entry = next(c for c in company_directory(tenant=member.tenant) if c.name == name)
    return entry.aliases


def test_another_tenants_upload_cannot_scope_my_questions(
    shared_library, analyst, other_tenant_analyst
):
    attacker, victim = analyst, other_tenant_analyst
    response = upload(attacker, json_filing(["revenue", "Revenue", "Apple Inc."]))
    assert response.status_code == 202, response.content

    assert "revenue" not in {a.lower() for a in aliases_of(victim, "Apple Inc.")}
    result = chunk_search(tenant=victim.tenant, query=QUESTION)
    assert result.scope.filters.company_ids == ()
    assert {hit.company for hit in result.hits} >= {"Apple Inc.", "Microsoft Corporation"}


def test_common_words_never_become_company_names_even_for_the_uploader(shared_library, analyst):
    upload(analyst, json_filing(["revenue", "Net Income", "FY2019", "The Company", "Apple Inc."]))

    assert aliases_of(analyst, "Apple Inc.") == ()
    assert chunk_search(tenant=analyst.tenant, query=QUESTION).scope.filters.company_ids == ()
    refused = upload(analyst, b"Some text.", filename="notes.txt", company="revenue")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_input"


def test_an_uploads_names_steer_only_its_tenant_and_leave_with_the_upload(
    shared_library, analyst, other_tenant_analyst
):
    response = upload(analyst, json_filing(["Cupertino Fruit Company", "Apple Inc."]))
    document_id = response.json()[0]["id"]
    question = "What did Cupertino Fruit Company report as total revenue in fiscal 2019?"
    apple = next(c.id for c in company_directory(tenant=analyst.tenant) if c.name == "Apple Inc.")

    assert chunk_search(tenant=analyst.tenant, query=question).scope.filters.company_ids == (apple,)
    assert (
        chunk_search(tenant=other_tenant_analyst.tenant, query=question).scope.filters.company_ids
        == ()
    )

    deleted = analyst.client().delete(f"/api/v1/documents/{document_id}")
    assert deleted.status_code == 204
    assert aliases_of(analyst, "Apple Inc.") == ()
    assert chunk_search(tenant=analyst.tenant, query=question).scope.filters.company_ids == ()


def test_a_cached_answer_over_removed_names_is_not_served_again(shared_library, analyst):
    response = upload(analyst, json_filing(["Cupertino Fruit Company", "Apple Inc."]))
    document_id = response.json()[0]["id"]
    conversation = analyst.client().post("/api/v1/conversations", {}, format="json").json()["id"]
    question = "What did Cupertino Fruit Company report as total revenue in fiscal 2019?"

    def ask() -> dict:
        reply = analyst.client().post(
            f"/api/v1/conversations/{conversation}/messages", {"question": question}, format="json"
        )
        assert reply.status_code == 200, reply.content
        return reply.json()

    assert "Apple Inc." in ask()["scope"]["description"]
    analyst.client().delete(f"/api/v1/documents/{document_id}")
    assert "Apple Inc." not in ask()["scope"]["description"]


def test_thousands_of_names_in_one_upload_are_capped(shared_library, analyst):
    names = [f"Zeta{n} Labs" for n in range(5000)] + ["Apple Inc."]
    upload(analyst, json_filing(names))

    assert len(aliases_of(analyst, "Apple Inc.")) <= 20


def test_the_upload_answer_reveals_nothing_about_another_tenants_company(
    analyst, other_tenant_analyst
):
    upload(
        other_tenant_analyst,
        b"Zanzibar Holdings sold 42 widgets.",
        filename="zanzibar.txt",
        company="Zanzibar Holdings",
        ticker="ZNZB",
    )
    response = upload(
        analyst, b"Notes on a rumoured deal.", filename="notes.txt", company="ZANZIBAR HOLDINGS"
    )

    assert response.status_code == 202, response.content
    body = response.json()[0]
    assert body["company"] == "ZANZIBAR HOLDINGS"
    assert body["ticker"] == ""


def test_only_staff_change_the_shared_directory_and_that_retires_cached_answers(
    shared_library, other_tenant_analyst, admin_client
):
    from retrieval.models import Company

    apple = Company.objects.get(name="Apple Inc.", tenant__isnull=True)
    before = corpus_version_get(tenant=other_tenant_analyst.tenant)
    response = admin_client.post(
        f"/admin/retrieval/company/{apple.pk}/change/",
        {
            "name": "Apple Inc.",
            "ticker": "AAPL",
            "cik": "",
            "alias_set-TOTAL_FORMS": "1",
            "alias_set-INITIAL_FORMS": "0",
            "alias_set-0-alias": "Apple Computer",
            "alias_set-0-tenant": "",
        },
    )
    assert response.status_code == 302, response.content
    assert "Apple Computer" in aliases_of(other_tenant_analyst, "Apple Inc.")
    assert corpus_version_get(tenant=other_tenant_analyst.tenant) != before
