"""A gunicorn worker loads the embedding model before it serves (config/gunicorn.py)."""

from __future__ import annotations


def test_a_gunicorn_worker_loads_the_model_before_it_serves(settings):
    """config/gunicorn.py's post_worker_init: the first turn finds the model loaded."""
    from config import gunicorn
    from retrieval import embeddings

    settings.EMBEDDING_MODEL = "all-MiniLM-L6-v2"
    embeddings._minilm_model_load.cache_clear()
    embeddings._onnx_session_load.cache_clear()
    embeddings._query_vector.cache_clear()
    gunicorn.post_worker_init(worker=None)
    assert embeddings._minilm_model_load.cache_info().currsize == 1
    if embeddings.get_embedder().query_runtime == "onnx":  # type: ignore[attr-defined]
        assert embeddings._onnx_session_load.cache_info().currsize == 1
