"""Helpers shared by the observability, feedback and archive tests: a tiny corpus and asking."""

from __future__ import annotations

from typing import Any

from retrieval.services import DocumentMetadata, document_ingest, document_register

FILING = (
    "Glueworks Corp annual report for fiscal 2018.\n\nItem 1. Business\n\n"
    "Glueworks makes industrial adhesives.\n\f"
    "Item 7. Management's Discussion and Analysis\n\n"
    "Net sales were $32,765 million in fiscal 2018.\n"
    "Capital expenditures were $1,577 million in fiscal 2018.\n"
)


def glueworks_ingest(tenant: Any, text: str = FILING) -> Any:
    """Register and ingest a Glueworks 10-K for the tenant (two pages unless `text` says
    otherwise); returns the document."""
    document, _ = document_register(
        tenant=tenant,
        user=None,
        data=text.encode(),
        filename="glue-2018.txt",
        metadata=DocumentMetadata(
            title="Glueworks 2018 10-K",
            company="Glueworks Corp",
            ticker="GLUE",
            doc_type="10-K",
            fiscal_year=2018,
            fiscal_period="FY",
        ),
        queue=False,
    )
    document_ingest(document_id=document.pk)
    return document


def ask(member: Any, question: str, *, conversation: int | None = None, **headers: Any) -> Any:
    """POST a question through the REST API, in a new conversation unless one is given."""
    if conversation is None:
        response = member.client().post("/api/v1/conversations", {}, format="json")
        conversation = response.json()["id"]
    return member.client().post(
        f"/api/v1/conversations/{conversation}/messages",
        {"question": question},
        format="json",
        **headers,
    )


async def read_stream(response: Any) -> bytes:
    return b"".join([chunk async for chunk in response.streaming_content])
