"""Tests of metric definitions, their exposition (one or many processes) and the /metrics view."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import django
import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

# Runs under the project's pytest-django settings, or standalone with just enough settings for
# RequestFactory (never overriding a configured project).
if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=[],
        METRICS_TOKEN="",
        METRICS_ALLOWED_IPS=["127.0.0.1", "::1"],
    )
    django.setup()

from django.test import RequestFactory, override_settings

from monitoring import metrics
from monitoring.metrics_views import metrics_view

REPO_ROOT = Path(__file__).resolve().parents[2]


def _samples(body: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def _value(body: bytes, name: str, **labels: str) -> float | None:
    return _samples(body).get((name, frozenset(labels.items())))


@pytest.fixture
def db_probe() -> Iterator[None]:
    yield
    metrics.register_db_connection_probe(None)


# --- definitions ---------------------------------------------------------------------------

EXPECTED = [
    ("QUERIES", "rag_queries", "counter", ("provider", "user_tier", "status")),
    ("TOKENS", "rag_tokens", "counter", ("provider", "type")),
    ("COST_USD", "rag_cost_usd", "counter", ("provider", "user_tier")),
    ("QUERY_LATENCY", "rag_query_latency_seconds", "histogram", ("provider",)),
    ("TOKENS_PER_QUERY", "rag_tokens_per_query", "histogram", ("provider",)),
    ("ACTIVE_CONVERSATIONS", "rag_active_conversations", "gauge", ()),
    ("CACHE_SIZE_BYTES", "rag_cache_size_bytes", "gauge", ("cache",)),
    ("CACHE_REQUESTS", "rag_cache_requests", "counter", ("cache",)),
    ("CACHE_HITS", "rag_cache_hits", "counter", ("cache",)),
    ("BUDGET_REMAINING_USD", "rag_budget_remaining_usd", "gauge", ("tenant",)),
    ("BUDGET_ALLOCATED_USD", "rag_budget_allocated_usd", "gauge", ("tenant",)),
    ("TOKENS_REMAINING", "rag_token_allowance_remaining", "gauge", ("tenant",)),
    ("TOKENS_ALLOCATED", "rag_token_allowance_allocated", "gauge", ("tenant",)),
    ("VECTOR_SEARCH_LATENCY", "rag_vector_search_latency_seconds", "histogram", ("mode",)),
    ("PROVIDER_ATTEMPTS", "rag_provider_attempts", "counter", ("provider", "outcome")),
    ("PROVIDER_FAILOVERS", "rag_provider_failovers", "counter", ("from_provider", "to_provider")),
    ("CIRCUIT_STATE", "rag_provider_circuit_state", "gauge", ("provider",)),
    ("PII_DETECTIONS", "rag_pii_detections", "counter", ("entity_type",)),
    ("PII_DETECTION_CONFIDENCE", "rag_pii_detection_confidence", "histogram", ("entity_type",)),
    ("RATE_LIMITED", "rag_rate_limited", "counter", ("scope",)),
    ("REDIS_ERRORS", "rag_redis_errors", "counter", ("component", "policy")),
    ("TOKEN_ESTIMATE_ERROR", "rag_token_estimate_error_ratio", "histogram", ("provider",)),
]


@pytest.mark.parametrize(("attribute", "name", "kind", "labels"), EXPECTED)
def test_metric_objects_keep_the_names_and_labels_other_apps_rely_on(attribute, name, kind, labels):
    metric = getattr(metrics, attribute)
    (family,) = metric.describe()
    assert (family.name, family.type) == (name, kind)
    assert tuple(metric._labelnames) == labels


def test_histogram_buckets_put_slo_thresholds_on_bucket_boundaries():
    def bounds(histogram):
        return [float(b) for b in histogram._upper_bounds]

    latency = bounds(metrics.QUERY_LATENCY)
    assert latency[0] == 0.05
    assert latency[-2] == 60
    assert 5.0 in latency
    tokens = bounds(metrics.TOKENS_PER_QUERY)
    assert (tokens[0], tokens[-2]) == (100, 20000)
    search = bounds(metrics.VECTOR_SEARCH_LATENCY)
    assert (search[0], search[-2]) == (0.001, 5)
    assert 2.0 in search
    confidence = bounds(metrics.PII_DETECTION_CONFIDENCE)
    assert (confidence[0], confidence[-2]) == (0.1, 1.0)
    assert 0.8 in confidence


def test_gauges_merge_across_processes_by_a_deliberate_rule():
    modes = {
        "ACTIVE_CONVERSATIONS": "livesum",
        "CACHE_SIZE_BYTES": "mostrecent",
        "BUDGET_REMAINING_USD": "mostrecent",
        "BUDGET_ALLOCATED_USD": "mostrecent",
        "TOKENS_REMAINING": "mostrecent",
        "TOKENS_ALLOCATED": "mostrecent",
        "CIRCUIT_STATE": "livemax",
    }
    assert {name: getattr(metrics, name)._multiprocess_mode for name in modes} == modes


def test_exported_names_include_every_sample_suffix_a_rule_can_use():
    names = metrics.exported_metric_names()
    assert {
        "rag_queries_total",
        "rag_query_latency_seconds_bucket",
        "rag_query_latency_seconds_sum",
        "rag_query_latency_seconds_count",
        "rag_active_conversations",
        "rag_db_connections_in_use",
        "rag_db_connections_max",
    } <= names
    assert "rag_queries" not in names


# --- single-process exposition -------------------------------------------------------------


def test_counted_query_appears_on_the_rendered_page():
    tier = f"tier-{uuid.uuid4().hex[:8]}"
    metrics.QUERIES.labels(provider="anthropic", user_tier=tier, status="ok").inc(3)
    body, content_type = metrics.render_latest()
    assert content_type.startswith("text/plain")
    value = _value(body, "rag_queries_total", provider="anthropic", user_tier=tier, status="ok")
    assert value == 3


def test_cache_series_exist_before_the_first_lookup():
    body, _ = metrics.render_latest()
    for cache in metrics.CACHE_NAMES:
        assert _value(body, "rag_cache_requests_total", cache=cache) is not None
        assert _value(body, "rag_cache_hits_total", cache=cache) is not None


def test_token_estimate_error_records_the_relative_error():
    provider = f"p-{uuid.uuid4().hex[:8]}"
    metrics.token_estimate_error_observe(provider=provider, estimated=1100, actual=1000)
    metrics.token_estimate_error_observe(provider=provider, estimated=900, actual=0)
    body, _ = metrics.render_latest()
    assert _value(body, "rag_token_estimate_error_ratio_count", provider=provider) == 1
    total = _value(body, "rag_token_estimate_error_ratio_sum", provider=provider)
    assert total == pytest.approx(0.1)
    assert _value(body, "rag_token_estimate_error_ratio_bucket", provider=provider, le="0.05") == 0
    assert _value(body, "rag_token_estimate_error_ratio_bucket", provider=provider, le="0.1") == 1


def test_postgres_connection_usage_is_read_from_the_probe_at_scrape_time(db_probe):
    readings = iter([(12, 100), (40, 100)])
    metrics.register_db_connection_probe(lambda: next(readings))
    first, _ = metrics.render_latest()
    second, _ = metrics.render_latest()
    assert _value(first, "rag_db_connections_in_use") == 12
    assert _value(second, "rag_db_connections_in_use") == 40
    assert _value(second, "rag_db_connections_max") == 100


def test_failing_postgres_probe_leaves_its_series_out_but_the_page_renders(db_probe):
    def broken() -> tuple[int, int]:
        raise ConnectionError("database is down")

    metrics.register_db_connection_probe(broken)
    body, _ = metrics.render_latest()
    assert _value(body, "rag_db_connections_in_use") is None
    assert b"rag_queries_total" in body


def test_without_a_probe_no_connection_series_is_invented(db_probe):
    metrics.register_db_connection_probe(None)
    body, _ = metrics.render_latest()
    assert b"rag_db_connections_in_use " not in body


# --- several processes ---------------------------------------------------------------------

_CHILD = """
import json, os, sys
from monitoring import metrics as m
action = sys.argv[1]
if action == "work":
    circuit, budget = int(sys.argv[2]), float(sys.argv[3])
    m.QUERIES.labels(provider="anthropic", user_tier="pro", status="ok").inc()
    m.ACTIVE_CONVERSATIONS.inc()
    m.CIRCUIT_STATE.labels(provider="openai").set(circuit)
    m.BUDGET_REMAINING_USD.labels(tenant="acme").set(budget)
    print(os.getpid())
else:
    for pid in sys.argv[2:]:
        m.process_mark_dead(pid=int(pid))
    m.register_db_connection_probe(lambda: (7, 100))
    body, content_type = m.render_latest()
    sys.stdout.write(body.decode())
"""


def _child(multiproc_dir: Path, *args: str) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout


def test_several_processes_merge_into_one_page_through_the_multiprocess_directory(tmp_path):
    first_pid = _child(tmp_path, "work", "2", "5").strip()
    _child(tmp_path, "work", "0", "3")

    page = _child(tmp_path, "render").encode()
    ok = {"provider": "anthropic", "user_tier": "pro", "status": "ok"}
    assert _value(page, "rag_queries_total", **ok) == 2
    assert _value(page, "rag_active_conversations") == 2
    assert _value(page, "rag_provider_circuit_state", provider="openai") == 2
    # The latest reading of a shared budget wins, not the sum or the largest.
    assert _value(page, "rag_budget_remaining_usd", tenant="acme") == 3
    assert _value(page, "rag_db_connections_in_use") == 7

    after_exit = _child(tmp_path, "render", first_pid).encode()
    # A finished process's counts stay (counters never go back); its live gauges leave.
    assert _value(after_exit, "rag_queries_total", **ok) == 2
    assert _value(after_exit, "rag_active_conversations") == 1
    assert _value(after_exit, "rag_provider_circuit_state", provider="openai") == 0


# --- the /metrics view ---------------------------------------------------------------------

TOKEN = "metrics-token-for-tests"


def _get(*, remote_addr: str, **headers: str):
    request = RequestFactory().get("/metrics", REMOTE_ADDR=remote_addr, headers=headers)
    return metrics_view(request)


@override_settings(METRICS_TOKEN=TOKEN, METRICS_ALLOWED_IPS=["127.0.0.1", "::1"])
def test_scraper_with_the_metrics_token_gets_the_page_from_anywhere():
    response = _get(remote_addr="203.0.113.9", authorization=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert b"rag_queries_total" in response.content
    assert "no-cache" in response["Cache-Control"]


@override_settings(METRICS_TOKEN=TOKEN, METRICS_ALLOWED_IPS=["127.0.0.1", "::1"])
def test_wrong_token_from_outside_is_refused_in_the_house_error_format():
    response = _get(remote_addr="203.0.113.9", authorization="Bearer guessed")
    assert response.status_code == 403
    body = json.loads(response.content)
    assert body["error"]["code"] == "permission_denied"
    assert body["error"]["details"] == {}
    assert body["error"]["message"]


@override_settings(METRICS_TOKEN="", METRICS_ALLOWED_IPS=["127.0.0.1"])
def test_an_unset_token_never_matches_an_empty_bearer():
    assert _get(remote_addr="203.0.113.9", authorization="Bearer ").status_code == 403
    assert _get(remote_addr="203.0.113.9").status_code == 403


@override_settings(METRICS_TOKEN=TOKEN, METRICS_ALLOWED_IPS=["10.0.0.0/8", "fd00::/8"])
def test_clients_inside_an_allowed_network_need_no_token():
    assert _get(remote_addr="10.42.7.3").status_code == 200
    assert _get(remote_addr="fd00::1234").status_code == 200
    assert _get(remote_addr="192.168.1.1").status_code == 403


@override_settings(METRICS_TOKEN=TOKEN, METRICS_ALLOWED_IPS=["127.0.0.1", "::1"])
def test_a_forged_forwarded_for_header_does_not_unlock_the_page():
    response = _get(remote_addr="203.0.113.9", x_forwarded_for="127.0.0.1")
    assert response.status_code == 403


@override_settings(METRICS_TOKEN=TOKEN, METRICS_ALLOWED_IPS=["127.0.0.1"])
def test_ipv4_mapped_loopback_counts_as_loopback():
    assert _get(remote_addr="::ffff:127.0.0.1").status_code == 200


@override_settings(METRICS_TOKEN=TOKEN)
def test_with_the_default_allow_list_only_loopback_is_allowed():
    assert _get(remote_addr="127.0.0.1").status_code == 200
    assert _get(remote_addr="::1").status_code == 200
    assert _get(remote_addr="10.0.0.1").status_code == 403


@override_settings(METRICS_TOKEN=TOKEN, METRICS_ALLOWED_IPS=["not-an-address", "127.0.0.1"])
def test_a_malformed_allow_list_entry_is_skipped_not_fatal():
    assert _get(remote_addr="127.0.0.1").status_code == 200
    assert _get(remote_addr="203.0.113.9").status_code == 403


@override_settings(METRICS_TOKEN=TOKEN, METRICS_ALLOWED_IPS=["127.0.0.1"])
def test_metrics_page_refuses_writes():
    request = RequestFactory().post("/metrics", REMOTE_ADDR="127.0.0.1")
    response = metrics_view(request)
    assert response.status_code == 405
    assert json.loads(response.content)["error"]["code"] == "method_not_allowed"
