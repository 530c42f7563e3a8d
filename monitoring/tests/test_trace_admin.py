"""The admin's trace view: questions listed by their root span, each opening as a tree of spans
on a timeline; only staff get in."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from monitoring.models import TraceSpan
from monitoring.selectors import trace_timeline

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class FakeSpan:
    span_id: str
    parent_span_id: str
    start_ms: float
    duration_ms: float

    @property
    def start_time(self) -> datetime:
        return T0 + timedelta(milliseconds=self.start_ms)

    @property
    def end_time(self) -> datetime:
        return self.start_time + timedelta(milliseconds=self.duration_ms)


def test_timeline_lists_spans_depth_first_with_children_in_start_order():
    spans = [
        FakeSpan("c2", "root", 600, 300),
        FakeSpan("root", "", 0, 1000),
        FakeSpan("c1", "root", 100, 400),
        FakeSpan("g1", "c1", 150, 100),
        FakeSpan("orphan", "gone", 900, 0),
    ]
    rows = trace_timeline(spans)
    assert [(r.span.span_id, r.depth) for r in rows] == [
        ("root", 0),
        ("c1", 1),
        ("g1", 2),
        ("c2", 1),
        ("orphan", 0),
    ]
    by_id = {r.span.span_id: r for r in rows}
    assert by_id["root"].offset_pct == 0
    assert by_id["root"].width_pct == 100
    assert by_id["c2"].offset_pct == 60
    assert by_id["c2"].width_pct == 30
    assert by_id["orphan"].width_pct > 0  # an instant still shows
    assert trace_timeline([]) == []


def stored_trace() -> tuple[str, dict[str, TraceSpan]]:
    trace_id = uuid.uuid4().hex
    query_id = uuid.uuid4()

    def make(span_id: str, parent: str, name: str, start_ms: int, ms: int, **attributes):
        start = T0 + timedelta(milliseconds=start_ms)
        return TraceSpan.objects.create(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=parent,
            name=name,
            status="error" if attributes.pop("failed", False) else "ok",
            start_time=start,
            end_time=start + timedelta(milliseconds=ms),
            duration_ms=ms,
            attributes=attributes,
            tenant_id=5,
            conversation_id=8,
            query_id=query_id,
        )

    spans = {
        "root": make("a" * 16, "", "rag.query", 0, 2400, provider="openai", cost_usd=0.0041),
        "hook": make("b" * 16, "a" * 16, "hook.before_model.pii_mask", 10, 30),
        "fail": make(
            "c" * 16, "a" * 16, "chat claude", 50, 900, failed=True, **{"gen_ai.system": "x"}
        ),
        "chat": make("d" * 16, "a" * 16, "chat gpt", 960, 1400, **{"gen_ai.system": "openai"}),
    }
    return trace_id, spans


@pytest.fixture
def staff_client(db) -> Client:
    user = get_user_model().objects.create_superuser(
        email="ops@example.com", password="correct horse battery staple"
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_trace_list_shows_one_row_per_question(staff_client):
    trace_id, _ = stored_trace()
    # Searched by trace id: spans of other tests' questions may be stored too.
    page = staff_client.get(f"/admin/monitoring/tracespan/?q={trace_id}")
    assert page.status_code == 200
    assert [s.name for s in page.context["cl"].result_list] == ["rag.query"]
    assert f"/admin/monitoring/tracespan/trace/{trace_id}/" in page.content.decode()
    everything = staff_client.get(f"/admin/monitoring/tracespan/?spans=all&q={trace_id}")
    assert len(everything.context["cl"].result_list) == 4


@pytest.mark.django_db
def test_a_trace_opens_as_a_tree_on_a_timeline(staff_client):
    trace_id, spans = stored_trace()
    page = staff_client.get(f"/admin/monitoring/tracespan/trace/{trace_id}/")
    assert page.status_code == 200
    rows = page.context["rows"]
    assert [r.span.name for r in rows] == [
        "rag.query",
        "hook.before_model.pii_mask",
        "chat claude",
        "chat gpt",
    ]
    assert [r.depth for r in rows] == [0, 1, 1, 1]
    assert dict(page.context["summary"])["provider"] == "openai"
    body = page.content.decode()
    assert "trace-bar error" in body
    assert "left: 40.00%; width: 58.33%" in body
    # Opening any span of the trace lands on the same view.
    redirect = staff_client.get(f"/admin/monitoring/tracespan/{spans['chat'].pk}/change/")
    assert redirect.status_code == 302
    assert redirect["Location"].endswith(f"/trace/{trace_id}/")


@pytest.mark.django_db
def test_unknown_traces_are_404_and_only_staff_get_in(staff_client):
    assert staff_client.get("/admin/monitoring/tracespan/trace/nope/").status_code == 404
    trace_id, _ = stored_trace()
    anonymous = Client().get(f"/admin/monitoring/tracespan/trace/{trace_id}/")
    assert anonymous.status_code == 302
    assert "/admin/login/" in anonymous["Location"]
    assert staff_client.get("/admin/monitoring/tracespan/add/").status_code == 403
