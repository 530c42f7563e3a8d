"""Timing probes for one in-process turn: hook spans, sync calls, SQL, embedding, provider time.

Installed only for the sequential pass of the pipeline benchmark (one turn at a time, so one
set of accumulators is enough) and removed before throughput is measured. The probes wrap what
the product already exposes: the hook spans (an OpenTelemetry span processor), the sync calls
the turn's steps (agents.turns) make through `sync_to_async`, Django's SQL execute wrappers, the
MiniLM embedder, and a bench hook (added through AGENT_HOOKS, so just outside the answer cache and
FailoverHook) that times the provider stream.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from agents.contracts import ModelRequest, StreamEvent, TextDelta
from agents.pipeline import Hook, ModelCall
from agents.turns.turn import Turn

PROBE_HOOK = "bench._agents_probes.ProviderProbeHook"

# The turn's sync calls by function name, and what they are.
CALL_LABELS = {
    "_reads": "prepare_reads",  # conversation, quota, chain, history and corpus version
    "create": "persistence",  # the user's message
    "turn_save": "persistence",  # the answer, its checkpoint, the conversation title
    "turn_retrieve": "retrieval",
}
# The turn's modules whose sync_to_async the probes wrap.
TURN_MODULES = ("agents.turns.prepare", "agents.turns.stream", "agents.turns.persist")


@dataclass
class TurnTimes:
    """Where one turn's time went, in seconds."""

    spans: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    sql: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    embed: float = 0.0
    provider: float = 0.0
    provider_first_token: float | None = None


class _State:
    enabled = False
    phase = ""
    current = TurnTimes()


STATE = _State()


def turn_reset() -> TurnTimes:
    STATE.current = TurnTimes()
    STATE.phase = ""
    return STATE.current


class HookSpanTimer(SpanProcessor):
    """Adds each finished hook span's duration to the current turn (wrap_model_call excluded:
    its span lasts the whole provider stream)."""

    def on_end(self, span: ReadableSpan) -> None:
        if not STATE.enabled or not span.name.startswith("hook."):
            return
        if span.name.startswith("hook.wrap_model_call.") or span.end_time is None:
            return
        if span.start_time is None:
            return
        STATE.current.spans[span.name] += (span.end_time - span.start_time) / 1e9


class ProviderProbeHook(Hook):
    """wrap_model_call, just outside FailoverHook: time spent waiting on the provider chain
    (SDK, HTTP, fake server) and its first token, excluding what our code does per event."""

    name = "bench_provider_probe"

    def wrap_model_call(self, ctx: Turn, call: ModelCall) -> ModelCall:
        async def timed(request: ModelRequest) -> AsyncIterator[StreamEvent]:
            times = STATE.current
            started = time.perf_counter()
            upstream = call(request)
            try:
                while True:
                    waited = time.perf_counter()
                    try:
                        event = await anext(upstream)  # type: ignore[call-overload]
                    except StopAsyncIteration:
                        times.provider += time.perf_counter() - waited
                        break
                    now = time.perf_counter()
                    times.provider += now - waited
                    if isinstance(event, TextDelta) and times.provider_first_token is None:
                        times.provider_first_token = now - started
                    yield event
            finally:
                await upstream.aclose()  # type: ignore[attr-defined]

        return timed


def _sql_timer(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
    if not STATE.enabled:
        return execute(sql, params, many, context)
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        STATE.current.sql[STATE.phase or "unlabelled"] += time.perf_counter() - started


class Probes:
    """Installs and removes every probe; see the module docstring."""

    def __init__(self) -> None:
        self._restore: list[Callable[[], None]] = []
        self._restore_sql_timer: Callable[[], Any] | None = None
        self._span_timer_added = False

    async def install(self) -> None:
        import importlib

        from asgiref.sync import sync_to_async
        from django.conf import settings
        from django.db import connection

        from monitoring.tracing import add_span_processor
        from retrieval.embeddings import MiniLMEmbedder

        if not self._span_timer_added:
            add_span_processor(HookSpanTimer())
            self._span_timer_added = True

        modules = [importlib.import_module(name) for name in TURN_MODULES]
        original_sync_to_async = sync_to_async

        def timed_sync_to_async(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            wrapped = original_sync_to_async(func, *args, **kwargs)
            name = getattr(func, "__name__", "call")

            async def call(*call_args: Any, **call_kwargs: Any) -> Any:
                previous, STATE.phase = STATE.phase, name
                started = time.perf_counter()
                try:
                    return await wrapped(*call_args, **call_kwargs)
                finally:
                    STATE.current.calls[name] += time.perf_counter() - started
                    STATE.phase = previous

            return call

        for module in modules:
            module.sync_to_async = timed_sync_to_async  # type: ignore[attr-defined]
            self._restore.append(
                lambda module=module: setattr(module, "sync_to_async", original_sync_to_async)
            )

        original_embed = MiniLMEmbedder.embed_query

        def timed_embed(embedder: MiniLMEmbedder, text: str) -> list[float]:
            started = time.perf_counter()
            try:
                return original_embed(embedder, text)
            finally:
                STATE.current.embed += time.perf_counter() - started

        MiniLMEmbedder.embed_query = timed_embed  # type: ignore[method-assign]
        self._restore.append(lambda: setattr(MiniLMEmbedder, "embed_query", original_embed))

        # The turn runs its sync work on asgiref's single sync thread: the execute
        # wrapper goes on that thread's connection.
        def add_sql_timer() -> None:
            connection.execute_wrappers.append(_sql_timer)

        def remove_sql_timer() -> None:
            if _sql_timer in connection.execute_wrappers:
                connection.execute_wrappers.remove(_sql_timer)

        await sync_to_async(add_sql_timer)()
        self._restore_sql_timer = sync_to_async(remove_sql_timer)

        # Hooks settings add sit just outside the answer cache and the failover chain.
        original_hooks = list(settings.AGENT_HOOKS)
        hooks = list(original_hooks)
        if PROBE_HOOK not in hooks:
            hooks.append(PROBE_HOOK)
        settings.AGENT_HOOKS = hooks
        self._restore.append(lambda: setattr(settings, "AGENT_HOOKS", original_hooks))
        STATE.enabled = True

    async def uninstall(self) -> None:
        STATE.enabled = False
        while self._restore:
            self._restore.pop()()
        if self._restore_sql_timer is not None:
            await self._restore_sql_timer()
            self._restore_sql_timer = None


def hooks_by_name(times: TurnTimes) -> dict[str, float]:
    """Milliseconds per hook class name, over all its hook points (the model call excluded)."""
    per_hook: dict[str, float] = defaultdict(float)
    for span_name, seconds in times.spans.items():
        per_hook[span_name.rsplit(".", 1)[-1]] += seconds * 1000
    return dict(per_hook)


def hook_points(times: TurnTimes) -> dict[str, float]:
    """Milliseconds per hook point and hook ("after_agent.budget"), the model call excluded."""
    return {
        span_name.removeprefix("hook."): seconds * 1000
        for span_name, seconds in times.spans.items()
    }


def breakdown(times: TurnTimes) -> dict[str, float | None]:
    """The turn's measured parts in milliseconds (hooks, sync calls by kind, SQL, embedding)."""
    hooks = sum(times.spans.values())
    pii = sum(v for k, v in times.spans.items() if k.endswith(".pii_mask"))
    trim = sum(v for k, v in times.spans.items() if k.endswith(".context_trim"))
    parts: dict[str, float] = defaultdict(float)
    for name, seconds in times.calls.items():
        parts[CALL_LABELS.get(name, "other_calls")] += seconds
    retrieval_sql = times.sql.get("_retrieve", 0.0)
    return {
        "prepare_reads_ms": parts["prepare_reads"] * 1000,
        "retrieval_ms": parts["retrieval"] * 1000,
        "embedding_ms": times.embed * 1000,
        "retrieval_sql_ms": retrieval_sql * 1000,
        "retrieval_rest_ms": (parts["retrieval"] - times.embed - retrieval_sql) * 1000,
        "hooks_ms": hooks * 1000,
        "pii_mask_ms": pii * 1000,
        "context_trim_ms": trim * 1000,
        "hooks_rest_ms": (hooks - pii - trim) * 1000,
        "persistence_ms": parts["persistence"] * 1000,
        "persistence_sql_ms": (times.sql.get("create", 0.0) + times.sql.get("_save_turn", 0.0))
        * 1000,
        "other_calls_ms": parts["other_calls"] * 1000,
        "provider_probe_ms": times.provider * 1000,
        "provider_probe_first_token_ms": (
            None if times.provider_first_token is None else times.provider_first_token * 1000
        ),
    }
