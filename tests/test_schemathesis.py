"""Schemathesis against the live server: every operation of the OpenAPI schema, in the examples,
coverage, fuzzing and stateful phases, with a throw-away tenant's key; no answer may be a server
error or disagree with the schema (status, content type, body)."""

from __future__ import annotations

import os
import re
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
# Examples per operation and phase, and the time the run may take (fuzzing and stateful repeat
# until it is spent): about three minutes on two cores. Raise both for a longer hunt.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "12"))
MAX_SECONDS = int(os.environ.get("SCHEMATHESIS_MAX_SECONDS", "150"))
# Revoking a key is fuzzed last, on its own: revoking the run's own key would turn every later
# answer into a 401.
REVOKE = "/revoke$"
REVOKE_SECONDS = 20
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
    """A tenant of its own with its owner's key (every operation is open to it), limits high
    enough not to hide operations behind 429s, one document and one conversation."""
    tenant, _ = tenant_create(slug="schemathesis", tier_slug="enterprise")
    Tenant.objects.filter(pk=tenant.pk).update(
        requests_per_minute_user_override=100_000, requests_per_minute_tenant_override=100_000
    )
    user, _, _ = user_create_in_tenant(
        tenant=tenant, email="fuzz@schemathesis.example", role="owner"
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


def schemathesis(server: Server, name: str, seconds: int, *selection: str) -> str:
    """Run schemathesis over the selected operations; returns its output, asserting success
    and that every selected operation was tested."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{server.url}/api/schema/",
        "--url",
        server.url,
        "--header",
        f"Authorization: Bearer {server.key}",
        *selection,
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--max-time",
        str(seconds),
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
        str(ARTIFACTS / f"{name}.junit.xml"),
        "--no-color",
    ]
    run = subprocess.run(
        command, cwd=ARTIFACTS, capture_output=True, text=True, timeout=seconds + 90
    )
    output = run.stdout + run.stderr
    (ARTIFACTS / f"{name}.txt").write_text(output)
    assert run.returncode == 0, output[-12000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    tested = re.search(r"Tested: (\d+)", output)
    assert selected, output[-3000:]
    assert tested, output[-3000:]
    assert tested.group(1) == selected.group(1), output[-3000:]
    return output


@pytest.mark.slow
@pytest.mark.timeout(MAX_SECONDS + REVOKE_SECONDS + 300)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(asgi_server: Server):
    schemathesis(asgi_server, "operations", MAX_SECONDS, "--exclude-path-regex", REVOKE)
    revoke = schemathesis(asgi_server, "revoke", REVOKE_SECONDS, "--include-path-regex", REVOKE)
    assert "Tested: 1\n" in revoke, revoke[-2000:]
