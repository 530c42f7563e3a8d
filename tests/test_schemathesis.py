"""Schemathesis against the live server: every operation of the OpenAPI schema, in the examples,
coverage, fuzzing and stateful phases, with a throw-away tenant's key; no answer may be a server
error or disagree with the schema (status, content type, body)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from accounts.models import Tenant
from accounts.services import api_key_issue, tenant_create, user_create_in_tenant
from agents.services import conversation_create
from retrieval.services import DocumentMetadata, document_ingest, document_register
from tests.live_server import daphne_serving

BASE_DIR = Path(__file__).resolve().parents[1]
ARTIFACTS = BASE_DIR / "test-artifacts" / "schemathesis"
# Examples per operation and phase: 17 operations in four phases stay within about three
# minutes on two cores (SCHEMATHESIS_MAX_EXAMPLES raises it for a longer hunt).
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "12"))
MAX_SECONDS = int(os.environ.get("SCHEMATHESIS_MAX_SECONDS", "240"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
FILING = (
    "Glueworks Corp annual report for fiscal 2018.\n\f"
    "Net sales were $32,765 million in fiscal 2018.\n"
)


@dataclass
class Server:
    url: str
    key: str


@pytest.fixture
def throwaway_tenant(transactional_db: None) -> str:
    """A tenant of its own with an analyst's key, limits high enough not to hide operations
    behind 429s, one document and one conversation."""
    tenant, _ = tenant_create(slug="schemathesis", tier_slug="enterprise")
    Tenant.objects.filter(pk=tenant.pk).update(
        requests_per_minute_user_override=100_000, requests_per_minute_tenant_override=100_000
    )
    user, _, _ = user_create_in_tenant(
        tenant=tenant, email="fuzz@schemathesis.example", role="analyst"
    )
    document, _ = document_register(
        tenant=tenant,
        user=user,
        data=FILING.encode(),
        filename="glue.txt",
        metadata=DocumentMetadata(company="Glueworks Corp", ticker="GLUE", fiscal_year=2018),
        queue=False,
    )
    document_ingest(document_id=document.pk)
    conversation_create(tenant=tenant, user=user, title="fuzzing")
    return api_key_issue(tenant=tenant, user=user, name="schemathesis").raw_key


@pytest.fixture
def asgi_server(throwaway_tenant: str) -> Iterator[Server]:
    with daphne_serving("schemathesis") as url:
        yield Server(url=url, key=throwaway_tenant)


@pytest.mark.slow
@pytest.mark.timeout(MAX_SECONDS + 120)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(asgi_server: Server):
    junit = ARTIFACTS / "junit.xml"
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{asgi_server.url}/api/schema/",
        "--url",
        asgi_server.url,
        "--header",
        f"Authorization: Bearer {asgi_server.key}",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--max-time",
        str(MAX_SECONDS),
        "--workers",
        "1",
        "--seed",
        "20261203",
        "--request-timeout",
        "60",
        "--suppress-health-check",
        "too_slow,filter_too_much",
        "--report",
        "junit",
        "--report-junit-path",
        str(junit),
        "--output-truncate",
        "true",
        "--no-color",
    ]
    run = subprocess.run(
        command, cwd=BASE_DIR, capture_output=True, text=True, timeout=MAX_SECONDS + 90
    )
    (ARTIFACTS / "output.txt").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[-12000:] + run.stderr[-3000:]
    assert "API Operations" in run.stdout or "operations" in run.stdout.lower(), run.stdout[-3000:]
