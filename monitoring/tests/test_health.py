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
