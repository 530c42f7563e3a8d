"""Prometheus metrics of the platform and their exposition, correct under several processes."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Our names are all legacy-valid, so the page is the classic text format; announcing it as 0.0.4
# keeps every Prometheus 2.x and 3.x scraper on its well-trodden parser.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# Label vocabularies, so emitters and dashboards spell values the same way.
QUERY_STATUSES = ("ok", "error", "cache_hit", "interrupted", "rejected")
TOKEN_TYPES = ("input", "output", "cached_input")
CACHE_NAMES = ("answer", "embedding")
SEARCH_MODES = ("hybrid", "vector", "text")
PROVIDER_OUTCOMES = ("ok", "error", "timeout", "rate_limited")
CIRCUIT_CLOSED = 0
CIRCUIT_HALF_OPEN = 1
CIRCUIT_OPEN = 2

# --- Queries, tokens and money -------------------------------------------------------------

QUERIES = Counter(
    "rag_queries_total",
    "Questions answered, by provider, user tier and outcome "
    "(ok, error, cache_hit, interrupted, rejected).",
    ["provider", "user_tier", "status"],
)
TOKENS = Counter(
    "rag_tokens_total",
    "LLM tokens billed, by provider and type (input, output, cached_input).",
    ["provider", "type"],
)
COST_USD = Counter(
    "rag_cost_usd_total",
    "LLM spend in US dollars, by provider and user tier.",
    ["provider", "user_tier"],
)
QUERY_LATENCY = Histogram(
    "rag_query_latency_seconds",
    "Wall time from question received to last answer token, by provider.",
    ["provider"],
    # 5 s is the latency SLO, so it is a bucket boundary and the p95 alert is exact there.
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60),
)
TIME_TO_FIRST_TOKEN = Histogram(
    "rag_time_to_first_token_seconds",
    "Wall time from the start of a question's run (before retrieval) to the first answer text "
    "the model stream yields, failed attempts and failovers included.",
    # 2 s is the time-to-first-token SLO, so it is a bucket boundary.
    buckets=(0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30),
)
TOKENS_PER_QUERY = Histogram(
    "rag_tokens_per_query",
    "Input plus output tokens used by one question, by provider.",
    ["provider"],
    buckets=(100, 250, 500, 1000, 2000, 3000, 5000, 8000, 12000, 16000, 20000),
)
TOKEN_ESTIMATE_ERROR = Histogram(
    "rag_token_estimate_error_ratio",
    "Relative error of the pre-call token estimate, |estimated - actual| / actual, by provider.",
    ["provider"],
    buckets=(0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0),
)

# --- Conversations and caches --------------------------------------------------------------

# Each process counts the conversations it holds open; the live processes' counts add up.
ACTIVE_CONVERSATIONS = Gauge(
    "rag_active_conversations",
    "Conversations with an open stream or websocket.",
    multiprocess_mode="livesum",
)
# The caches live in shared storage, so every process measures the same thing: the latest
# measurement wins (max would keep a stale high value after an eviction).
CACHE_SIZE_BYTES = Gauge(
    "rag_cache_size_bytes",
    "Bytes held by a cache (answer, embedding), as last measured.",
    ["cache"],
    multiprocess_mode="mostrecent",
)
CACHE_REQUESTS = Counter(
    "rag_cache_requests_total",
    "Cache look-ups, by cache (answer, embedding).",
    ["cache"],
)
CACHE_HITS = Counter(
    "rag_cache_hits_total",
    "Cache look-ups that found an entry, by cache (answer, embedding).",
    ["cache"],
)

# --- Budgets (shared state in Postgres; the latest reading is the truth) -------------------

BUDGET_REMAINING_USD = Gauge(
    "rag_budget_remaining_usd",
    "US dollars a tenant has left in its current budget period.",
    ["tenant"],
    multiprocess_mode="mostrecent",
)
BUDGET_ALLOCATED_USD = Gauge(
    "rag_budget_allocated_usd",
    "US dollars a tenant is allocated for its current budget period.",
    ["tenant"],
    multiprocess_mode="mostrecent",
)
TOKENS_REMAINING = Gauge(
    "rag_token_allowance_remaining",
    "Tokens a tenant has left in its current budget period.",
    ["tenant"],
    multiprocess_mode="mostrecent",
)
TOKENS_ALLOCATED = Gauge(
    "rag_token_allowance_allocated",
    "Tokens a tenant is allocated for its current budget period.",
    ["tenant"],
    multiprocess_mode="mostrecent",
)

# --- Retrieval -----------------------------------------------------------------------------

VECTOR_SEARCH_LATENCY = Histogram(
    "rag_vector_search_latency_seconds",
    "Time of one chunk search in Postgres, by mode (hybrid, vector, text).",
    ["mode"],
    # 2 s is the search SLO, so it is a bucket boundary.
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)

# --- Answers ---------------------------------------------------------------------------------

FIGURE_VERDICTS = ("supported", "calculated", "unsupported")
ANSWER_FIGURES = Counter(
    "rag_answer_figures_total",
    "Figures stated in answers, by verdict of the check against the cited passages and the "
    "calculator (supported, calculated, unsupported).",
    ["verdict"],
)

# --- Providers -----------------------------------------------------------------------------

PROVIDER_ATTEMPTS = Counter(
    "rag_provider_attempts_total",
    "Calls made to an LLM provider, by provider and outcome (ok, error, timeout, rate_limited).",
    ["provider", "outcome"],
)
PROVIDER_FAILOVERS = Counter(
    "rag_provider_failovers_total",
    "Times a question moved from one provider to the next in the failover chain.",
    ["from_provider", "to_provider"],
)
# Circuit breakers are held per process: the worst state of any live process is what matters.
CIRCUIT_STATE = Gauge(
    "rag_provider_circuit_state",
    "Circuit breaker state per provider: 0 closed, 1 half-open, 2 open.",
    ["provider"],
    multiprocess_mode="livemax",
)

# --- Privacy, limits and Redis -------------------------------------------------------------

PII_DETECTIONS = Counter(
    "rag_pii_detections_total",
    "PII entities found and masked, by entity type.",
    ["entity_type"],
)
# Every detection recorded here was masked: it passed its type's threshold (0.4 for phone
# numbers, 0.5 for most others; monitoring.pii.SCORE_THRESHOLDS). A low score is a weak pattern
# match, not a failure, so this is for dashboards; PIIDetectionFailure uses the errors below.
PII_DETECTION_CONFIDENCE = Histogram(
    "rag_pii_detection_confidence",
    "Recogniser confidence of each PII detection (all masked), by entity type.",
    ["entity_type"],
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0),
)
PII_DETECTION_ERRORS = Counter(
    "rag_pii_detection_errors_total",
    "Texts the PII detector failed on (the question is refused rather than sent unmasked).",
)
RATE_LIMITED = Counter(
    "rag_rate_limited_total",
    "Requests refused by a rate limit, by scope.",
    ["scope"],
)
REDIS_ERRORS = Counter(
    "rag_redis_errors_total",
    "Redis failures, by component and the policy applied (fail_open, fail_closed, retry).",
    ["component", "policy"],
)

# Series whose label values are known up front exist from the start, so rate() ratios over
# them have a denominator even before the first event.
for _cache in CACHE_NAMES:
    CACHE_REQUESTS.labels(cache=_cache)
    CACHE_HITS.labels(cache=_cache)
for _mode in SEARCH_MODES:
    VECTOR_SEARCH_LATENCY.labels(mode=_mode)
for _verdict in FIGURE_VERDICTS:
    ANSWER_FIGURES.labels(verdict=_verdict)


def answer_figures_count(counts: dict[str, int]) -> None:
    """Count the figures of one answer by verdict."""
    for verdict, count in counts.items():
        if count:
            ANSWER_FIGURES.labels(verdict=verdict).inc(count)


def token_estimate_error_observe(*, provider: str, estimated: int, actual: int) -> None:
    """Record how far a pre-call token estimate was from the billed count; ignores actual <= 0."""
    if actual <= 0:
        return
    TOKEN_ESTIMATE_ERROR.labels(provider=provider).observe(abs(estimated - actual) / actual)


# --- Postgres connections, read at scrape time ---------------------------------------------

DB_CONNECTIONS_IN_USE = "rag_db_connections_in_use"
DB_CONNECTIONS_MAX = "rag_db_connections_max"

DbConnectionProbe = Callable[[], tuple[int, int]]
_db_connection_probe: DbConnectionProbe | None = None


def register_db_connection_probe(probe: DbConnectionProbe | None) -> None:
    """Install the callable returning (connections in use, max_connections); None removes it.

    The probe runs at every scrape in the scraping process. When it raises, the two series are
    left out of that scrape (and a warning is logged) rather than failing the whole page.
    """
    global _db_connection_probe
    _db_connection_probe = probe


class DatabaseConnectionCollector(Collector):
    """Exports Postgres connection usage by calling the registered probe at collect time."""

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        probe = _db_connection_probe
        if probe is None:
            return iter(())
        try:
            in_use, maximum = probe()
        except Exception:
            logger.warning("Postgres connection probe failed; skipping its metrics", exc_info=True)
            return iter(())
        return self._families(in_use=in_use, maximum=maximum)

    @staticmethod
    def _families(*, in_use: int | None = None, maximum: int | None = None) -> Iterator[Metric]:
        in_use_family = GaugeMetricFamily(
            DB_CONNECTIONS_IN_USE, "Client connections open on the Postgres server."
        )
        max_family = GaugeMetricFamily(
            DB_CONNECTIONS_MAX, "The Postgres server's max_connections setting."
        )
        if in_use is not None and maximum is not None:
            in_use_family.add_metric([], float(in_use))
            max_family.add_metric([], float(maximum))
        yield in_use_family
        yield max_family


DB_CONNECTIONS = DatabaseConnectionCollector()
REGISTRY.register(DB_CONNECTIONS)


# --- Exposition ----------------------------------------------------------------------------

_METRICS = (
    QUERIES,
    TOKENS,
    COST_USD,
    QUERY_LATENCY,
    TIME_TO_FIRST_TOKEN,
    TOKENS_PER_QUERY,
    TOKEN_ESTIMATE_ERROR,
    ACTIVE_CONVERSATIONS,
    CACHE_SIZE_BYTES,
    CACHE_REQUESTS,
    CACHE_HITS,
    BUDGET_REMAINING_USD,
    BUDGET_ALLOCATED_USD,
    TOKENS_REMAINING,
    TOKENS_ALLOCATED,
    VECTOR_SEARCH_LATENCY,
    PROVIDER_ATTEMPTS,
    PROVIDER_FAILOVERS,
    CIRCUIT_STATE,
    PII_DETECTIONS,
    PII_DETECTION_CONFIDENCE,
    PII_DETECTION_ERRORS,
    RATE_LIMITED,
    REDIS_ERRORS,
)
_SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
}


def exported_metric_names() -> frozenset[str]:
    """Every series name this module can put on the page, suffixes included (for rule checks)."""
    names: set[str] = set()
    for collector in (*_METRICS, DB_CONNECTIONS):
        for family in collector.describe():
            names.update(
                family.name + suffix for suffix in _SAMPLE_SUFFIXES.get(family.type, ("",))
            )
    return frozenset(names)


def multiprocess_enabled() -> bool:
    """True when metrics are shared through PROMETHEUS_MULTIPROC_DIR files."""
    return bool(os.environ.get(MULTIPROC_DIR_ENV))


def render_latest() -> tuple[bytes, str]:
    """Render every metric of the service in the Prometheus text format, with its content type.

    With PROMETHEUS_MULTIPROC_DIR set, the values of all processes (ours and django-prometheus's)
    are merged from their files; otherwise the default registry of this process is rendered.
    """
    if multiprocess_enabled():
        registry = CollectorRegistry(auto_describe=True)
        multiprocess.MultiProcessCollector(registry)
        registry.register(DB_CONNECTIONS)
        return generate_latest(registry), CONTENT_TYPE
    return generate_latest(REGISTRY), CONTENT_TYPE


def process_mark_dead(*, pid: int) -> None:
    """Drop a finished worker process's live gauges (livesum/livemax); call from exit hooks."""
    if multiprocess_enabled():
        multiprocess.mark_process_dead(pid)
