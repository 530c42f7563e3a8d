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


def test_concurrent_first_calls_load_the_model_once():
    """A cold worker meeting many turns at once shares one model instead of loading a copy per
    thread (which stalled every turn of a load test for 25-30 s)."""
    import threading

    from retrieval import embeddings

    embeddings._minilm_model_load.cache_clear()
    barrier = threading.Barrier(4)
    models: list[object] = []

    def first_call() -> None:
        barrier.wait(timeout=30)
        models.append(embeddings._minilm_model())

    threads = [threading.Thread(target=first_call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(models) == 4
    assert all(model is models[0] for model in models)
    assert embeddings._minilm_model_load.cache_info().misses == 1
