"""One trace per question: spans tagged with its id join its root wherever they start, carry its
tenant and conversation, and are stored in Postgres by a batching exporter off the request path."""

from __future__ import annotations

import contextvars
import threading
import uuid

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from monitoring import tracing
from monitoring.models import TraceSpan

MEMORY = InMemorySpanExporter()
tracing.add_span_processor(SimpleSpanProcessor(MEMORY))


def finished(query_id: str):
    return [
        s
        for s in MEMORY.get_finished_spans()
        if (s.attributes or {}).get(tracing.ATTR_QUERY_ID) == query_id
    ]


def tag(query_id: str) -> dict[str, str]:
    return {tracing.ATTR_QUERY_ID: query_id}


def test_spans_of_one_question_share_a_root_even_from_unrelated_contexts():
    query_id = str(uuid.uuid4())
    tracer = tracing.get_tracer()

    def hook_span(name: str) -> None:
        with tracer.start_as_current_span(name, attributes=tag(query_id)):
            pass

    # Each in a fresh context, as when a view prepares a turn and a generator streams it.
    contextvars.Context().run(hook_span, "hook.before_agent.a")
    worker = threading.Thread(target=hook_span, args=("hook.after_agent.b",))
    worker.start()
    worker.join()
    assert tracing.query_trace_close(query_id=query_id)

    spans = {s.name: s for s in finished(query_id)}
    root = spans["rag.query"]
    assert root.parent is None
    for name in ("hook.before_agent.a", "hook.after_agent.b"):
        assert spans[name].context.trace_id == root.context.trace_id
        assert spans[name].parent.span_id == root.context.span_id


def test_a_span_nests_under_the_current_span_of_the_same_question():
    query_id = str(uuid.uuid4())
    tracer = tracing.get_tracer()
    with (
        tracer.start_as_current_span("outer", attributes=tag(query_id)) as outer,
        tracer.start_as_current_span("inner", attributes=tag(query_id)),
    ):
        untagged = tracer.start_span("retrieval")
        untagged.end()
    tracing.query_trace_close(query_id=query_id)
    spans = {s.name: s for s in MEMORY.get_finished_spans() if s.name in ("inner", "retrieval")}
    assert spans["inner"].parent.span_id == outer.get_span_context().span_id
    # A span started inside the question without its id still inherits the question's ids.
    assert spans["retrieval"].attributes[tracing.ATTR_QUERY_ID] == query_id


def test_an_unrelated_current_span_does_not_adopt_the_question():
    query_id = str(uuid.uuid4())
    tracer = tracing.get_tracer()
    with (
        trace.get_tracer("other").start_as_current_span("request") as request,
        tracer.start_as_current_span("hook", attributes=tag(query_id)),
    ):
        pass
    tracing.query_trace_close(query_id=query_id)
    [hook] = [s for s in finished(query_id) if s.name == "hook"]
    assert hook.context.trace_id != request.get_span_context().trace_id


def test_annotations_reach_the_root_and_inherited_ids_reach_later_spans():
    query_id = str(uuid.uuid4())
    tracer = tracing.get_tracer()
    with tracer.start_as_current_span("first", attributes=tag(query_id)):
        pass
    assert tracing.query_trace_annotate(
        query_id=query_id,
        attributes={tracing.ATTR_TENANT_ID: 42, "rag.question": "masked"},
        inherit=(tracing.ATTR_TENANT_ID,),
    )
    with tracer.start_as_current_span("second", attributes=tag(query_id)):
        pass
    tracing.query_trace_close(
        query_id=query_id, attributes={tracing.TAG_PROVIDER: "openai"}, error="provider_error"
    )
    spans = {s.name: s for s in finished(query_id)}
    root = spans["rag.query"]
    assert root.attributes["rag.question"] == "masked"
    assert root.attributes[tracing.TAG_PROVIDER] == "openai"
    assert root.status.status_code == trace.StatusCode.ERROR
    assert root.status.description == "provider_error"
    assert spans["second"].attributes[tracing.ATTR_TENANT_ID] == 42
    # The first span started before the tenant was known; storage fills it in from the trace.
    assert tracing.span_row(spans["first"])["tenant_id"] == 42


def test_a_closed_question_is_not_reopened_by_a_late_span():
    query_id = str(uuid.uuid4())
    tracer = tracing.get_tracer()
    with tracer.start_as_current_span("early", attributes=tag(query_id)):
        pass
    assert tracing.query_trace_close(query_id=query_id)
    assert not tracing.query_trace_close(query_id=query_id)
    assert not tracing.query_trace_annotate(query_id=query_id, attributes={"x": 1})
    with tracer.start_as_current_span("late", attributes=tag(query_id)):
        pass
    assert [s.name for s in finished(query_id)].count("rag.query") == 1


def test_questions_never_closed_are_ended_as_abandoned(monkeypatch):
    monkeypatch.setattr(tracing, "MAX_OPEN_SECONDS", 0)
    tracer = tracing.get_tracer()
    lost = str(uuid.uuid4())
    with tracer.start_as_current_span("hook", attributes=tag(lost)):
        pass
    with tracer.start_as_current_span("hook", attributes=tag(str(uuid.uuid4()))):
        pass
    [root] = [s for s in finished(lost) if s.name == "rag.query"]
    assert root.attributes["rag.abandoned"] is True
    assert tracing.query_trace_span(lost) is None


def test_a_finished_span_becomes_a_row_with_hex_ids_times_and_plain_values():
    query_id = str(uuid.uuid4())
    tracer = tracing.get_tracer()
    with tracer.start_as_current_span(
        "chat gpt",
        attributes={**tag(query_id), tracing.ATTR_CONVERSATION_ID: 9, "rag.chain": ("a", "b")},
    ) as span:
        span.add_event("retry", {"attempt": 2})
    tracing.query_trace_close(query_id=query_id)
    [chat] = [s for s in finished(query_id) if s.name == "chat gpt"]
    row = tracing.span_row(chat)
    assert len(row["trace_id"]) == 32
    assert len(row["span_id"]) == len(row["parent_span_id"]) == 16
    assert row["query_id"] == uuid.UUID(query_id)
    assert row["conversation_id"] == 9
    assert row["attributes"]["rag.chain"] == ["a", "b"]
    assert row["events"][0]["name"] == "retry"
    assert row["end_time"] >= row["start_time"]
    assert row["duration_ms"] >= 0
    assert row["status"] == "unset"


@pytest.mark.django_db(transaction=True)
def test_the_postgres_exporter_stores_each_span_once_on_its_own_connection():
    query_id = str(uuid.uuid4())
    tracer = tracing.get_tracer()
    with tracer.start_as_current_span("hook", attributes=tag(query_id)):
        pass
    tracing.query_trace_close(query_id=query_id)
    spans = finished(query_id)
    exporter = tracing.PostgresSpanExporter()
    assert exporter.export(spans).name == "SUCCESS"
    assert exporter.export(spans).name == "SUCCESS"  # a retried batch adds nothing
    stored = TraceSpan.objects.filter(query_id=query_id)
    assert sorted(stored.values_list("name", flat=True)) == ["hook", "rag.query"]
    [root] = [s for s in stored if s.is_root]
    assert all(s.trace_id == root.trace_id for s in stored)
    exporter.shutdown()
    assert exporter.export(spans).name == "SUCCESS"  # after shutdown: accepted, not written
