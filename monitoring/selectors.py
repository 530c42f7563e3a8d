"""Reads of stored traces: the spans of one question laid out as a tree on a timeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from monitoring.models import TraceSpan


@dataclass(frozen=True)
class TimelineRow:
    """One span placed on its trace's timeline: depth in the tree, offset and width in percent."""

    span: Any
    depth: int
    offset_ms: float
    offset_pct: float
    width_pct: float


def trace_spans(*, trace_id: str) -> QuerySet[TraceSpan]:
    return TraceSpan.objects.filter(trace_id=trace_id).order_by("start_time", "id")


def trace_roots(*, tenant_id: int | None = None) -> QuerySet[TraceSpan]:
    """Root spans (one per question), newest first; only one tenant's when tenant_id is given."""
    roots = TraceSpan.objects.filter(parent_span_id="").order_by("-start_time")
    if tenant_id is not None:
        roots = roots.filter(tenant_id=tenant_id)
    return roots


def trace_timeline(spans: Sequence[Any]) -> list[TimelineRow]:
    """Spans in depth-first order (children by start time) with their place on the timeline.

    Works on anything with span_id, parent_span_id, start_time, end_time and duration_ms. A span
    whose parent is missing (not stored, or dropped from a full queue) is shown at the top level.
    """
    if not spans:
        return []
    known = {s.span_id for s in spans}
    children: dict[str, list[Any]] = {}
    tops: list[Any] = []
    for span in sorted(spans, key=lambda s: (s.start_time, s.span_id)):
        if span.parent_span_id and span.parent_span_id in known:
            children.setdefault(span.parent_span_id, []).append(span)
        else:
            tops.append(span)
    start = min(s.start_time for s in spans)
    end = max(s.end_time for s in spans)
    total_ms = max((end - start).total_seconds() * 1000, 1e-6)

    rows: list[TimelineRow] = []
    stack: list[tuple[Any, int]] = [(span, 0) for span in reversed(tops)]
    while stack:
        span, depth = stack.pop()
        offset_ms = (span.start_time - start).total_seconds() * 1000
        rows.append(
            TimelineRow(
                span=span,
                depth=depth,
                offset_ms=offset_ms,
                offset_pct=round(100 * offset_ms / total_ms, 2),
                # A zero-length span still gets a visible sliver.
                width_pct=round(max(100 * span.duration_ms / total_ms, 0.3), 2),
            )
        )
        stack.extend((child, depth + 1) for child in reversed(children.get(span.span_id, [])))
    return rows
