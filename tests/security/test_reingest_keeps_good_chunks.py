"""A re-ingest that fails must not take away a document that worked (issue #12, item 12).

The chunks of a ready document are replaced in one transaction only once all the new ones are
ready; until then, and for good when the new parse or embedding fails, it answers from the old.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from retrieval.models import Chunk, Document
from retrieval.selectors import chunk_search
from retrieval.services import document_ingest, document_register

pytestmark = pytest.mark.django_db

FILING = (
    "Initech Corp Annual Report 2022\n\n"
    "Item 7. Management's Discussion and Analysis\n\n"
    "Net sales were $4,210 million in fiscal 2022, up 12% from $3,759 million in fiscal 2021.\n"
    "Capital expenditures were $388 million, mainly for the new Austin data centre.\n"
)


@pytest.fixture
def ready_filing(analyst):
    document, _ = document_register(
        tenant=analyst.tenant, user=None, data=FILING.encode(), filename="initech.txt", queue=False
    )
    assert document_ingest(document_id=document.pk).status == "ready"
    return document


def chunk_ids(document: Document) -> set[int]:
    return set(Chunk.objects.filter(document=document).values_list("pk", flat=True))


def finds_the_filing(analyst, document: Document) -> bool:
    result = chunk_search(tenant=analyst.tenant, query="Initech capital expenditures Austin")
    return any(hit.document_id == document.pk for hit in result.hits)


def test_a_reembed_whose_new_parse_fails_keeps_the_previous_chunks_searchable(
    analyst, ready_filing, monkeypatch
):
    before = chunk_ids(ready_filing)
    # The workspace's upload limit was lowered since: the stored file no longer parses.
    analyst.tenant.max_upload_bytes_override = 64
    analyst.tenant.save()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # never called: the parse fails first

    call_command(
        "reembed", "--tenant", "acme", "--model", "text-embedding-3-small", stdout=StringIO()
    )

    ready_filing.refresh_from_db()
    assert ready_filing.status == "ready"
    assert ready_filing.error_code == "too_large"
    assert chunk_ids(ready_filing) == before
    assert finds_the_filing(analyst, ready_filing)


def test_a_reembed_whose_embedding_provider_fails_leaves_the_document_answering(
    analyst, ready_filing, llm_env
):
    import openai

    before = chunk_ids(ready_filing)

    # The fake provider has no embeddings endpoint: the SDK gets a 404 for every request.
    with pytest.raises(openai.NotFoundError):
        call_command(
            "reembed", "--tenant", "acme", "--model", "text-embedding-3-small", stdout=StringIO()
        )

    ready_filing.refresh_from_db()
    assert ready_filing.status == "ready"
    assert ready_filing.embedding_model == "all-MiniLM-L6-v2"
    assert chunk_ids(ready_filing) == before
    assert finds_the_filing(analyst, ready_filing)
