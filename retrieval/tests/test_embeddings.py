"""MiniLM embeddings: the faster bf16 document path stays comparable with stored fp32 vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.chunking import chunk_pages, text_for_embedding
from retrieval.embeddings import EmbeddingUnavailable, MiniLMEmbedder
from retrieval.parsing import parse_document

DEMO_CORPUS = Path(__file__).resolve().parents[1] / "demo_corpus"


def filing_texts(limit: int = 48) -> list[str]:
    """Chunks of the demo filings with their headers, prose and statement rows alike."""
    texts: list[str] = []
    for path in sorted(DEMO_CORPUS.glob("*.md")):
        parsed = parse_document(
            data=path.read_bytes(), filename=path.name, content_type=None, max_bytes=10**7
        )
        header = f"{parsed.title} | {path.stem}"
        texts += [text_for_embedding(c, header=header) for c in chunk_pages(parsed.pages)]
    step = max(1, len(texts) // limit)
    return texts[::step][:limit]


def test_bf16_document_vectors_agree_with_the_stored_fp32_ones():
    texts = filing_texts()
    assert len(texts) >= 24

    fp32 = np.asarray(MiniLMEmbedder(precision="fp32").embed_documents(texts))
    bf16 = np.asarray(MiniLMEmbedder(precision="bf16").embed_documents(texts))

    cosine = (fp32 * bf16).sum(axis=1) / (
        np.linalg.norm(fp32, axis=1) * np.linalg.norm(bf16, axis=1)
    )
    assert cosine.min() > 0.999, sorted(cosine)[:3]
    # Same ranking of documents for a query: the nearest chunk of each text is unchanged.
    assert ((fp32 @ fp32.T).argsort(axis=1)[:, -2] == (bf16 @ fp32.T).argsort(axis=1)[:, -2]).all()


def test_a_query_is_embedded_in_fp32_whatever_the_document_precision():
    question = "What was Apple's total net sales in fiscal 2020?"

    query = MiniLMEmbedder(precision="bf16").embed_query(question)

    assert query == MiniLMEmbedder(precision="fp32").embed_documents([question])[0]


def test_an_unknown_precision_is_refused():
    with pytest.raises(EmbeddingUnavailable):
        MiniLMEmbedder(precision="fp8")


@pytest.mark.asyncio
async def test_the_query_embedded_ahead_of_the_search_is_the_one_the_search_uses():
    from retrieval.embeddings import QUERY_VECTORS, get_embedder, query_embedding_prefetch
    from retrieval.finance.questions import read_question

    QUERY_VECTORS.clear()
    question = "  What were Apple's net sales in fiscal 2019?  "
    search_text = read_question(question.strip()).search_text
    embedder = get_embedder()

    await query_embedding_prefetch(question)

    prefetched = QUERY_VECTORS.get((embedder.model_name, search_text))
    assert prefetched is not None
    # The same vector the search would compute itself (fp32, not the document precision).
    fresh = MiniLMEmbedder(precision="fp32").embed_documents([search_text])[0]
    assert np.allclose(prefetched, fresh, atol=1e-6)
    assert embedder.embed_query(search_text) == prefetched


def test_remembered_query_vectors_are_bounded_and_least_recently_used_go_first():
    from retrieval.embeddings import _QueryVectors

    vectors = _QueryVectors(size=2)
    vectors.put(("m", "a"), [1.0])
    vectors.put(("m", "b"), [2.0])
    assert vectors.get(("m", "a")) == [1.0]  # "a" is now the most recently used
    vectors.put(("m", "c"), [3.0])

    assert vectors.get(("m", "b")) is None
    assert vectors.get(("m", "a")) == [1.0]
    assert vectors.get(("m", "c")) == [3.0]
