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

    query = MiniLMEmbedder(precision="bf16", query_runtime="torch").embed_query(question)

    assert query == MiniLMEmbedder(precision="fp32").embed_documents([question])[0]


QUERIES = [
    "What was Apple's total net sales in fiscal 2020?",
    "3M capex FY2018",
    "How did Microsoft's operating margin change between 2016 and 2017, and why? " * 40,
    "",
]


def test_onnx_query_vectors_equal_the_torch_ones_within_float_rounding():
    """The exported graph (pooling and normalisation included, long questions truncated where
    sentence-transformers truncates them) gives the vectors the stored documents were compared
    with: the same nearest texts, cosine 1 within rounding."""
    onnx = MiniLMEmbedder(query_runtime="onnx")
    torch_path = MiniLMEmbedder(precision="fp32", query_runtime="torch")
    documents = np.asarray(torch_path.embed_documents(filing_texts(24)))

    for text in QUERIES:
        a = np.asarray(onnx.embed_query(text))
        b = np.asarray(torch_path.embed_documents([text])[0])
        assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5
        assert float(a @ b) > 0.99999, text[:40]
        assert np.abs(a - b).max() < 1e-4
        assert (documents @ a).argmax() == (documents @ b).argmax()


def test_the_onnx_export_is_made_once_and_reused(tmp_path, settings):
    from retrieval import embeddings

    settings.EMBEDDING_ONNX_DIR = str(tmp_path)
    model = embeddings._minilm_model()
    first = embeddings._onnx_export(model)
    stamp = first.stat().st_mtime_ns

    second = embeddings._onnx_export(model)

    assert second == first
    assert second.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.glob("*.onnx")] == [first.name]
    assert first.stat().st_mode & 0o044  # other workers' users can read it


def test_a_repeated_question_is_embedded_once():
    from retrieval import embeddings

    question = "What were Glueworks' capital expenditures in fiscal 2019 (asked twice)?"
    embeddings._query_vector.cache_clear()
    embedder = embeddings.get_embedder()

    first = embedder.embed_query(question)
    second = embedder.embed_query(question)

    info = embeddings._query_vector.cache_info()
    assert first == second
    assert (info.misses, info.hits) == (1, 1)


def test_an_unknown_query_runtime_is_refused():
    with pytest.raises(EmbeddingUnavailable):
        MiniLMEmbedder(query_runtime="tensorrt")


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


def test_questions_embedded_from_many_threads_at_once_get_their_own_vectors():
    """Web requests embed questions on their own threads at the same time, and the ONNX path
    takes no lock (the session's run is thread-safe): the vectors are those of one at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from retrieval import embeddings

    embedder = MiniLMEmbedder(query_runtime="onnx")
    questions = [f"What was revenue in fiscal {2000 + n} (thread test {n})?" for n in range(48)]
    embeddings._query_vector.cache_clear()
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(embedder.embed_query, questions))
    embeddings._query_vector.cache_clear()
    one_by_one = [embedder.embed_query(q) for q in questions]

    assert together == one_by_one
