"""OpenTelemetry tracing: one tracer for the product, spans exported over OTLP when configured."""

from __future__ import annotations

import os
import threading
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanProcessor

_LOCK = threading.Lock()
_PROVIDER: TracerProvider | None = None
TRACER_NAME = "finrag"


def tracer_provider() -> TracerProvider:
    """The process's TracerProvider; OTLP/HTTP export when OTEL_EXPORTER_OTLP_ENDPOINT is set."""
    global _PROVIDER
    with _LOCK:
        if _PROVIDER is None:
            provider = TracerProvider(resource=Resource.create({"service.name": "finrag"}))
            if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            _PROVIDER = provider
        return _PROVIDER


def add_span_processor(processor: SpanProcessor) -> None:
    tracer_provider().add_span_processor(processor)


def get_tracer() -> Any:
    return tracer_provider().get_tracer(TRACER_NAME)


def current_span() -> Any:
    return trace.get_current_span()
