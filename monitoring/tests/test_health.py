"""Liveness and readiness: /ready names each check with its latency and fails on a stopped Redis."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from django.test import Client, override_settings

from config import embedded


def test_health_answers_without_touching_anything():
    response = Client().get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_reports_database_pgvector_and_redis_with_latencies():
    response = Client().get("/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "pgvector", "redis"}
    assert body["checks"]["pgvector"]["detail"].startswith("vector ")
    assert all(check["latency_ms"] >= 0 for check in body["checks"].values())


@pytest.mark.django_db
def test_ready_reports_a_stopped_redis_as_not_ready():
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        data_dir = Path(tmp)
        sock = embedded.redis_start(data_dir)
        url = f"unix://{sock}?db=0"
        with override_settings(REDIS_URL=url):
            assert Client().get("/ready").status_code == 200
            assert embedded.redis_stop(data_dir)
            deadline = time.monotonic() + 5
            while embedded.redis_socket_answers(sock) and time.monotonic() < deadline:
                time.sleep(0.05)
            response = Client().get("/ready")
        body = response.json()
        assert response.status_code == 503
        assert body["status"] == "not_ready"
        assert body["checks"]["redis"]["ok"] is False
        assert body["checks"]["database"]["ok"] is True


def test_embedded_redis_binary_is_a_real_redis_server():
    version = subprocess.run(
        [embedded.redis_executable(), "--version"], capture_output=True, text=True, check=True
    )
    assert "Redis server" in version.stdout


@pytest.mark.django_db
@override_settings(ALLOWED_HOSTS=["rag.example.com"], SECURE_SSL_REDIRECT=True)
def test_probes_pass_with_the_pod_ip_as_host_over_plain_http_while_other_paths_stay_guarded():
    # A kubelet probe: the pod IP and port as Host, plain HTTP, no forwarded-proto header.
    client = Client(HTTP_HOST="10.244.1.17:8000")
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200, ready.content
    assert ready.json()["status"] == "ready"
    # Every other path still refuses an unknown Host.
    assert client.get("/login/").status_code == 400
    assert Client(HTTP_HOST="rag.example.com").get("/login/").status_code == 301


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@override_settings(ALLOWED_HOSTS=["rag.example.com"])
async def test_probes_pass_with_the_pod_ip_as_host_through_the_asgi_application():
    from django.test import AsyncClient

    client = AsyncClient(headers={"host": "10.244.1.17:8000"})
    assert (await client.get("/health")).status_code == 200
    assert (await client.get("/ready")).status_code == 200
    assert (await client.get("/login/")).status_code == 400
    # /ready ran on the sync worker thread; close its connection so the test database can go.
    from asgiref.sync import sync_to_async
    from django.db import connections

    await sync_to_async(connections.close_all)()


@pytest.mark.django_db
@override_settings(
    ALLOWED_HOSTS=["rag.example.com"], SECURE_SSL_REDIRECT=True, METRICS_TOKEN="scrape-token"
)
def test_prometheus_scraping_a_pod_by_its_ip_gets_metrics_with_the_token_only():
    # Not from an allowed address: the token is what lets Prometheus in.
    client = Client(HTTP_HOST="10.244.1.17:8000", REMOTE_ADDR="10.244.3.9")
    assert client.get("/metrics").status_code == 403
    scraped = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token")
    assert scraped.status_code == 200
    assert b"rag_queries_total" in scraped.content
