"""A cache hit through the REST API, end to end: p50/p95 and where the time goes.

Run: python -m bench.billing_cache [--requests 200]. Starts a private PostgreSQL (see
bench/billing_common.py), migrates, ingests one small filing with the offline MiniLM embedder,
asks its question once (a miss, answered by the offline provider), then asks it again in
`--requests` fresh conversations through POST /api/v1/conversations/<id>/messages with an API
key, in process (DRF, the full hook pipeline, Redis, Postgres; no network hop). Every answer must
come from the cache. The cache look-up is timed on the side, and the retriever is counted: a hit is
found in before_agent, so it must never run. Writes bench/results/billing_cache.json.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.billing_common import dedicated_postgres, django_on, machine, percentile

RESULT_PATH = Path(__file__).resolve().parent / "results" / "billing_cache.json"
TARGET_P95_MS = 5.0
FILING = (
    "Glueworks Corp annual report for fiscal 2018.\n\nItem 1. Business\n\n"
    "Glueworks makes industrial adhesives.\n\f"
    "Item 7. Management's Discussion and Analysis\n\n"
    "Net sales were $32,765 million in fiscal 2018.\n"
    "Capital expenditures were $1,577 million in fiscal 2018.\n"
)
QUESTION = "What were Glueworks' capital expenditures in 2018?"


class Stopwatch:
    """Wraps a function (or method) and keeps how long each call took, in ms."""

    def __init__(self, fn: Any):
        self.samples: list[float] = []
        samples = self.samples

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                samples.append((time.perf_counter() - started) * 1000)

        self.wrapped = wrapped


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(samples, 0.5), 2),
        "p95_ms": round(percentile(samples, 0.95), 2),
        "max_ms": round(max(samples), 2) if samples else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    with dedicated_postgres() as socket_dir:
        django_on(socket_dir)
        from django.db import connections
        from rest_framework.test import APIClient

        import agents.hooks.answer_cache as hooks
        import agents.turns.retrieve as turn_retrieval
        from accounts.models import Tenant
        from accounts.services import api_key_issue, tenant_create, user_create_in_tenant
        from agents.services import conversation_create
        from retrieval.services import DocumentMetadata, document_ingest, document_register

        tenant, _ = tenant_create(slug="cache-bench", tier_slug="pro")
        Tenant.objects.filter(pk=tenant.pk).update(
            requests_per_minute_user_override=1_000_000,
            requests_per_minute_tenant_override=1_000_000,
        )
        tenant.refresh_from_db()
        user, _, _ = user_create_in_tenant(
            tenant=tenant, email="analyst@cache-bench.example", role="analyst"
        )
        key = api_key_issue(tenant=tenant, user=user, name="bench").raw_key
        document, _ = document_register(
            tenant=tenant,
            user=None,
            data=FILING.encode(),
            filename="glue-2018.txt",
            metadata=DocumentMetadata(company="Glueworks Corp", ticker="GLUE", fiscal_year=2018),
            queue=False,
        )
        document_ingest(document_id=document.pk)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

        def ask(conversation_id: int | None = None) -> dict[str, Any]:
            if conversation_id is None:
                conversation_id = conversation_create(tenant=tenant, user=user).pk
            response = client.post(
                f"/api/v1/conversations/{conversation_id}/messages",
                {"question": QUESTION},
                format="json",
            )
            assert response.status_code == 200, response.content
            return response.json()

        first = ask()  # the miss that fills the cache (and loads the embedding model)
        assert first["provider"] == "offline", first
        retrieve = Stopwatch(turn_retrieval.chunk_search)
        lookup = Stopwatch(hooks.answer_cache_get)
        turn_retrieval.chunk_search = retrieve.wrapped  # type: ignore[assignment]
        hooks.answer_cache_get = lookup.wrapped
        for _ in range(5):
            ask()
        retrieve.samples.clear()
        lookup.samples.clear()
        totals: list[float] = []
        conversations = [
            conversation_create(tenant=tenant, user=user).pk for _ in range(args.requests)
        ]
        for conversation_id in conversations:
            started = time.perf_counter()
            body = ask(conversation_id)
            totals.append((time.perf_counter() - started) * 1000)
            assert body["provider"] == "cache", body
            assert body["citations"], body
        connections.close_all()

    end_to_end = _summary(totals)
    payload = {
        "benchmark": "billing_cache",
        "date": datetime.now(UTC).date().isoformat(),
        "machine": machine(),
        "requests": args.requests,
        "target_p95_ms": TARGET_P95_MS,
        "end_to_end": end_to_end,
        "retrieval_calls_on_hits": len(retrieve.samples),
        "cache_lookup": _summary(lookup.samples),
        "meets_target": end_to_end["p95_ms"] <= TARGET_P95_MS,
    }
    RESULT_PATH.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
