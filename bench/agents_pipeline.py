"""Agents benchmarks (issue 4): our overhead per turn, added time to first token, 100 concurrent
websocket conversations, and cancel latency, against the fake provider server on loopback.

Run: python -m bench.agents_pipeline [--only N] [--keep] [--output FILE]

1. Pipeline overhead: turns run in this process through turn_prepare + turn_stream (the path every
   entry point takes) for a pro tenant with the demo corpus, Anthropic's SDK pointed at a fake
   server (in a child process) that answers every request at once. Our time is the turn's wall
   time minus the provider attempts' latency (AttemptRecord.latency_ms), broken down by timing
   probes (bench/_agents_probes.py); throughput is measured without probes at several
   concurrencies.
2. Time to first token added by us: in process (first `token` frame minus the attempt's own
   first-token time) and end to end through daphne (a websocket client's first `token` frame
   minus the fake server's own first-token time, both on this process's monotonic clock).
3. 100 websocket clients against daphne, each asking one question while the fake streams slowly.
4. Cancel latency: from sending `cancel` (and, separately, closing the socket) to the fake
   server seeing the upstream connection closed.

Everything runs on a scratch database (finrag_bench_agents, dropped afterwards unless --keep) and
stops by itself; results go to bench/results/agents_pipeline.json (merged per benchmark), or to
--output for a trial run. The sequential pass also records each hook point's time
(`hook_points_ms`, e.g. `before_model.budget`).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench._agents_setup import (
    SCRATCH_DATABASE,
    BenchWorld,
    DaphneServer,
    bench_django_setup,
    conversations_create,
    provider_environ,
    provider_environ_apply,
    question_for,
    world_create,
)
from bench._django import scratch_database_drop

RESULT_PATH = Path(__file__).resolve().parent / "results" / "agents_pipeline.json"

ANSWER = (
    "3M reported capital expenditures of $1,577 million for fiscal 2018 [1]. Its net sales were "
    "$32,765 million that year [2], and the figures are as originally reported [1]."
)
# The concurrent and cancel runs stream slowly so that the streams overlap and can be cut.
STREAMED_ANSWER = f"{ANSWER} {ANSWER}"
LONG_ANSWER = " ".join([ANSWER] * 20)
TURNS_PER_CONVERSATION = 5
_QUESTION_NUMBERS = itertools.count()


def next_question() -> str:
    """The next demo question, never asked before in this run (no answer-cache hits)."""
    return question_for(next(_QUESTION_NUMBERS))


TARGET_OURS_P95_MS = 30.0
TARGET_QPS = 100.0
TARGET_ADDED_TTFT_P95_MS = 15.0


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    """n, p50, p95, mean and max (linear-interpolated percentiles), or Nones when empty."""
    data = [float(v) for v in values if v is not None]
    if not data:
        return {"n": 0, "p50": None, "p95": None, "mean": None, "max": None}
    array = np.asarray(data)
    return {
        "n": len(data),
        "p50": float(np.percentile(array, 50)),
        "p95": float(np.percentile(array, 95)),
        "mean": float(array.mean()),
        "max": float(array.max()),
    }


def _ms(value: float | int | None) -> str:
    return "-" if value is None else f"{value:.1f}"


# ---------------------------------------------------------------------------------------------
# 1 and 2a: in process


@dataclass
class TurnSample:
    wall_ms: float
    provider_ms: float
    first_token_frame_ms: float | None
    attempt_first_token_ms: float | None
    status: str
    text_ok: bool
    error: str = ""
    parts: dict[str, float | None] = field(default_factory=dict)
    hooks: dict[str, float] = field(default_factory=dict)
    hook_points: dict[str, float] = field(default_factory=dict)

    @property
    def ours_ms(self) -> float:
        return self.wall_ms - self.provider_ms

    @property
    def added_ttft_ms(self) -> float | None:
        if self.first_token_frame_ms is None or self.attempt_first_token_ms is None:
            return None
        return self.first_token_frame_ms - self.attempt_first_token_ms


async def run_turn(world: BenchWorld, conversation_id: int, question: str) -> TurnSample:
    """One turn as the websocket consumer runs it: turn_prepare, then turn_stream to the end."""
    from agents import turns
    from agents.turns.frames import EndFrame, ErrorFrame, TokenFrame

    started = time.perf_counter()
    prepared = await turns.turn_prepare(
        tenant=world.tenant,
        user=world.user,
        membership=world.membership,
        conversation_id=conversation_id,
        question=question,
    )
    first_token_at: float | None = None
    text: list[str] = []
    status, error = "", ""
    async for frame in turns.turn_stream(prepared):
        if isinstance(frame, TokenFrame):
            if first_token_at is None:
                first_token_at = time.perf_counter()
            text.append(frame.text)
        elif isinstance(frame, ErrorFrame):
            error = frame.code
        elif isinstance(frame, EndFrame):
            status = frame.status
    finished = time.perf_counter()
    attempts = prepared.turn.attempts
    answered = [a for a in attempts if a.outcome == "ok"]
    return TurnSample(
        wall_ms=(finished - started) * 1000,
        provider_ms=float(sum(a.latency_ms for a in attempts)),
        first_token_frame_ms=None if first_token_at is None else (first_token_at - started) * 1000,
        attempt_first_token_ms=(
            float(answered[-1].first_token_ms)
            if answered and answered[-1].first_token_ms is not None
            else None
        ),
        status=status,
        text_ok="".join(text) == ANSWER,
        error=error or ("" if len(attempts) == 1 else f"{len(attempts)} attempts"),
    )


def _conversation_plan(conversations: list[int], turns: int) -> list[tuple[int, str]]:
    return [(conversations[i // TURNS_PER_CONVERSATION], next_question()) for i in range(turns)]


async def sequential_pass(
    world: BenchWorld, conversations: list[int], *, turns: int, seconds: float
) -> tuple[list[TurnSample], float]:
    """Turns one at a time with the timing probes installed; returns samples and wall seconds."""
    from bench._agents_probes import Probes, breakdown, hook_points, hooks_by_name, turn_reset

    probes = Probes()
    await probes.install()
    samples: list[TurnSample] = []
    started = time.perf_counter()
    try:
        for conversation_id, question in _conversation_plan(conversations, turns):
            times = turn_reset()
            sample = await run_turn(world, conversation_id, question)
            sample.parts = breakdown(times)
            sample.hooks = hooks_by_name(times)
            sample.hook_points = hook_points(times)
            samples.append(sample)
            if time.perf_counter() - started > seconds:
                break
    finally:
        await probes.uninstall()
    return samples, time.perf_counter() - started


async def throughput_pass(
    world: BenchWorld, conversations: list[int], *, concurrency: int, turns: int, seconds: float
) -> dict[str, Any]:
    """`concurrency` workers sharing `turns` turns (no probes); queries per second overall."""
    plan = _conversation_plan(conversations, turns)
    # Each worker keeps to its own conversations so no two turns of one run at once.
    lanes = [plan[k::concurrency] for k in range(concurrency)]
    samples: list[TurnSample] = []
    started = time.perf_counter()
    cpu_started = time.process_time()

    async def worker(lane: list[tuple[int, str]]) -> None:
        for conversation_id, question in lane:
            if time.perf_counter() - started > seconds:
                return
            samples.append(await run_turn(world, conversation_id, question))

    await asyncio.gather(*(worker(lane) for lane in lanes))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    failed = [s for s in samples if s.status != "complete" or not s.text_ok]
    return {
        "concurrency": concurrency,
        "turns": len(samples),
        "elapsed_s": elapsed,
        # All threads of this process (not PostgreSQL's): a load-independent cost per turn.
        "process_cpu_ms_per_turn": cpu * 1000 / len(samples) if samples else None,
        "queries_per_s": len(samples) / elapsed if elapsed else 0.0,
        "failed": len(failed),
        "wall_ms": summary([s.wall_ms for s in samples]),
        "ours_ms": summary([s.ours_ms for s in samples]),
    }


def _lane_conversations(plan_turns: int, concurrency: int) -> int:
    return -(-plan_turns // TURNS_PER_CONVERSATION) + concurrency


def in_process_benchmarks(
    world: BenchWorld, args: argparse.Namespace, *, throughput: bool
) -> dict[str, Any]:
    """Benchmark 1 (and the in-process half of 2) with the fake provider in a child process."""
    from bench._agents_fake import FakeServerProcess

    levels = [int(v) for v in args.concurrency.split(",") if v.strip()]
    with FakeServerProcess(text=ANSWER) as fake:
        provider_environ_apply(fake.url)
        warm = conversations_create(world, 4, title="warm-up")
        sequential = conversations_create(
            world, _lane_conversations(args.turns, 1), title="sequential"
        )
        lanes = {
            level: conversations_create(
                world, _lane_conversations(args.throughput_turns, level), title=f"c{level}"
            )
            for level in (levels if throughput else [])
        }

        async def run() -> dict[str, Any]:
            for conversation_id, question in _conversation_plan(warm, 15):
                await run_turn(world, conversation_id, question)
            samples, elapsed = await sequential_pass(
                world, sequential, turns=args.turns, seconds=args.seconds
            )
            results = [
                await throughput_pass(
                    world,
                    lanes[level],
                    concurrency=level,
                    turns=args.throughput_turns,
                    seconds=args.seconds,
                )
                for level in lanes
            ]
            return {"samples": samples, "elapsed": elapsed, "throughput": results}

        return asyncio.run(run())


def pipeline_overhead_result(samples: list[TurnSample], throughput: list[dict]) -> dict[str, Any]:
    parts = {
        key: summary([s.parts.get(key) for s in samples])  # type: ignore[misc]
        for key in samples[0].parts
    }
    hook_names = sorted({name for s in samples for name in s.hooks})
    hooks = {name: summary([s.hooks.get(name, 0.0) for s in samples]) for name in hook_names}
    point_names = sorted({name for s in samples for name in s.hook_points})
    points = {
        name: summary([s.hook_points.get(name, 0.0) for s in samples]) for name in point_names
    }
    ours = summary([s.ours_ms for s in samples])
    precise = summary([s.wall_ms - (s.parts["provider_probe_ms"] or 0.0) for s in samples])
    best = max(throughput, key=lambda r: r["queries_per_s"]) if throughput else None
    failed = [s for s in samples if s.status != "complete" or not s.text_ok or s.error]
    return {
        "turns": len(samples),
        "failed": len(failed),
        "failures": sorted({f"{s.status}/{s.error}/text_ok={s.text_ok}" for s in failed}),
        "wall_ms": summary([s.wall_ms for s in samples]),
        "provider_ms": summary([s.provider_ms for s in samples]),
        "ours_ms": ours,
        "ours_precise_ms": precise,
        "parts_ms": parts,
        "hooks_ms": dict(sorted(hooks.items(), key=lambda item: -(item[1]["mean"] or 0.0))),
        "hook_points_ms": dict(sorted(points.items(), key=lambda item: -(item[1]["mean"] or 0.0))),
        "other_ms": summary([_other_ms(s) for s in samples]),
        "throughput": throughput,
        "targets": {"ours_p95_ms": TARGET_OURS_P95_MS, "queries_per_s": TARGET_QPS},
        "met": {
            "ours_p95": ours["p95"] is not None and ours["p95"] <= TARGET_OURS_P95_MS,
            "queries_per_s": best is not None and best["queries_per_s"] >= TARGET_QPS,
        },
    }


def _other_ms(sample: TurnSample) -> float:
    p = sample.parts
    measured = sum(
        p[k] or 0.0 for k in ("prepare_reads_ms", "retrieval_ms", "hooks_ms", "persistence_ms")
    )
    return sample.wall_ms - (p["provider_probe_ms"] or 0.0) - measured - (p["other_calls_ms"] or 0)


def pipeline_overhead_table(result: dict[str, Any]) -> str:
    parts = result["parts_ms"]
    rows = [
        ("turn wall time", result["wall_ms"]),
        ("provider attempts (AttemptRecord.latency_ms)", result["provider_ms"]),
        ("**ours = wall - provider**", result["ours_ms"]),
        ("ours, provider timed by probe (sub-ms)", result["ours_precise_ms"]),
        ("- reads: conversation, quota, history", parts["prepare_reads_ms"]),
        ("- retrieval (sync thread, total)", parts["retrieval_ms"]),
        ("  - query embedding (MiniLM)", parts["embedding_ms"]),
        ("  - SQL (hybrid search, company directory)", parts["retrieval_sql_ms"]),
        ("  - rest (scoping, decomposition, nodes)", parts["retrieval_rest_ms"]),
        ("- hooks (their spans, the model call excluded)", parts["hooks_ms"]),
        *[
            (f"  - {name}", stats)
            for name, stats in result["hooks_ms"].items()
            if (stats["mean"] or 0.0) >= 0.05
        ],
        ("- persistence: user message, answer + checkpoint", parts["persistence_ms"]),
        ("  - of which SQL (inserts, update, commits)", parts["persistence_sql_ms"]),
        ("- rest: event loop, thread hops, chain set-up, frames", result["other_ms"]),
    ]
    lines = [
        "| part of one turn | p50 ms | p95 ms | mean ms |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, stats in rows:
        lines.append(
            f"| {label} | {_ms(stats['p50'])} | {_ms(stats['p95'])} | {_ms(stats['mean'])} |"
        )
    lines += [
        "",
        "| concurrency | turns | queries/s | wall p50 ms | wall p95 ms | CPU ms/turn | failed |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in result["throughput"]:
        lines.append(
            f"| {run['concurrency']} | {run['turns']} | {run['queries_per_s']:.1f} | "
            f"{_ms(run['wall_ms']['p50'])} | {_ms(run['wall_ms']['p95'])} | "
            f"{_ms(run['process_cpu_ms_per_turn'])} | {run['failed']} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# 2b, 3 and 4: through daphne, with websocket clients


@dataclass
class WsTurn:
    sent_at: float = 0.0
    first_token_at: float | None = None
    last_token_at: float | None = None
    end_at: float | None = None
    text: str = ""
    status: str = ""
    errors: list[str] = field(default_factory=list)


async def _frame(ws: Any, timeout: float) -> dict[str, Any] | None:
    import aiohttp

    message = await ws.receive(timeout=timeout)
    if message.type is aiohttp.WSMsgType.TEXT:
        return json.loads(message.data)
    return None


async def ws_ask(ws: Any, question: str, *, timeout: float = 60.0) -> WsTurn:
    """Ask one question on an open socket and read frames until `end`."""
    turn = WsTurn(sent_at=time.monotonic())
    await ws.send_json({"type": "ask", "question": question})
    parts: list[str] = []
    while True:
        try:
            frame = await _frame(ws, timeout)
        except TimeoutError:
            turn.errors.append("timeout waiting for a frame")
            break
        if frame is None:
            turn.errors.append("socket closed before end")
            break
        now = time.monotonic()
        if frame["type"] == "token":
            turn.first_token_at = turn.first_token_at or now
            turn.last_token_at = now
            parts.append(frame["text"])
        elif frame["type"] == "error":
            turn.errors.append(frame["error"]["code"])
        elif frame["type"] == "end":
            turn.end_at = now
            turn.status = frame.get("status", "")
            break
    turn.text = "".join(parts)
    return turn


def _ws_headers(world: BenchWorld, daphne: DaphneServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.raw_key}", "Origin": daphne.origin}


async def websocket_ttft(
    world: BenchWorld, daphne: DaphneServer, fake: Any, conversations: list[int], turns: int
) -> dict[str, Any]:
    """Sequential asks through daphne: client TTFT minus the fake server's own first token."""
    import aiohttp

    from tests.fakes.llm_server import ok

    fake.default = ok(ANSWER)
    client_ms: list[float] = []
    server_ms: list[float] = []
    added_ms: list[float] = []
    last_ms: list[float] = []
    failed: list[str] = []
    plan = _conversation_plan(conversations, turns)
    async with aiohttp.ClientSession() as session:
        for start in range(0, len(plan), TURNS_PER_CONVERSATION):
            chunk = plan[start : start + TURNS_PER_CONVERSATION]
            async with session.ws_connect(
                daphne.ws_url(chunk[0][0]), headers=_ws_headers(world, daphne)
            ) as ws:
                for _, question in chunk:
                    before = len(fake.requests)
                    turn = await ws_ask(ws, question)
                    if turn.errors or turn.status != "complete" or turn.text != ANSWER:
                        failed.append(",".join(turn.errors) or turn.status or "text")
                        continue
                    own = fake.first_token_s(fake.requests[before])
                    if turn.first_token_at is None or own is None:
                        failed.append("no first token")
                        continue
                    client = (turn.first_token_at - turn.sent_at) * 1000
                    client_ms.append(client)
                    server_ms.append(own * 1000)
                    added_ms.append(client - own * 1000)
                    last_ms.append((turn.end_at or turn.sent_at) - turn.sent_at)
    return {
        "turns": len(plan),
        "failed": failed,
        "client_first_token_ms": summary(client_ms),
        "fake_server_first_token_ms": summary(server_ms),
        "added_ms": summary(added_ms),
        "end_frame_ms": summary([v * 1000 for v in last_ms]),
    }


async def websocket_warm_up(
    world: BenchWorld, daphne: DaphneServer, fake: Any, conversations: list[int], turns: int
) -> float:
    """A few turns so daphne has loaded the embedder, Presidio and the SDK before timing."""
    import aiohttp

    from tests.fakes.llm_server import ok

    fake.default = ok(ANSWER)
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        for conversation_id, question in _conversation_plan(conversations, turns):
            async with session.ws_connect(
                daphne.ws_url(conversation_id), headers=_ws_headers(world, daphne)
            ) as ws:
                turn = await ws_ask(ws, question, timeout=120)
                if turn.errors or turn.status != "complete":
                    raise RuntimeError(f"warm-up turn failed: {turn.errors or turn.status}")
    return time.monotonic() - started


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    best = current = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best


async def concurrent_websockets(
    world: BenchWorld,
    daphne: DaphneServer,
    fake: Any,
    conversations: list[int],
    *,
    delay: float,
    timeout: float,
) -> dict[str, Any]:
    """One ask per client, all sent together once every client is connected."""
    import aiohttp

    from tests.fakes.llm_server import slow

    fake.default = slow(STREAMED_ANSWER, delay=delay)
    first_request = len(fake.requests)
    go = asyncio.Event()
    connected: list[int] = []
    turns: list[WsTurn] = [WsTurn() for _ in conversations]
    questions = [next_question() for _ in conversations]

    async def client(index: int, session: aiohttp.ClientSession) -> None:
        turn = turns[index]
        try:
            async with session.ws_connect(
                daphne.ws_url(conversations[index]), headers=_ws_headers(world, daphne)
            ) as ws:
                connected.append(index)
                if len(connected) == len(conversations):
                    go.set()
                await asyncio.wait_for(go.wait(), timeout)
                turns[index] = await ws_ask(ws, questions[index], timeout=timeout)
        except (aiohttp.ClientError, TimeoutError) as exc:
            turn.errors.append(f"{type(exc).__name__}: {exc}")
            go.set()  # a failed connection must not hold the others back

    connector = aiohttp.TCPConnector(limit=0)
    started = time.monotonic()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.wait_for(
            asyncio.gather(*(client(i, session) for i in range(len(conversations)))),
            timeout * 3,
        )
    elapsed = time.monotonic() - started
    requests = fake.requests[first_request:]
    complete = [t for t in turns if t.status == "complete" and t.text == STREAMED_ANSWER]
    streamed = [t for t in turns if t.first_token_at is not None and t.last_token_at is not None]
    return {
        "clients": len(conversations),
        "connected": len(connected),
        "errors": sum(len(t.errors) for t in turns),
        "error_kinds": sorted({e for t in turns for e in t.errors}),
        "complete_and_exact": len(complete),
        "upstream_requests": len(requests),
        "fake_first_token_ms": summary([(fake.first_token_s(r) or 0.0) * 1000 for r in requests]),
        "first_token_ms": summary(
            [(t.first_token_at - t.sent_at) * 1000 for t in streamed]  # type: ignore[operator]
        ),
        "last_token_ms": summary(
            [(t.last_token_at - t.sent_at) * 1000 for t in streamed]  # type: ignore[operator]
        ),
        "end_frame_ms": summary(
            [(t.end_at - t.sent_at) * 1000 for t in turns if t.end_at is not None]
        ),
        "max_streams_at_once": _max_overlap(
            [(t.first_token_at, t.last_token_at) for t in streamed]  # type: ignore[misc]
        ),
        "scripted_stream_s": delay * len(STREAMED_ANSWER.split()),
        "elapsed_s": elapsed,
    }


async def cancel_latency(
    world: BenchWorld,
    daphne: DaphneServer,
    fake: Any,
    conversations: list[int],
    *,
    cancels: int,
    disconnects: int,
    tokens_before: int,
    delay: float,
) -> dict[str, Any]:
    """Per run: ask, read a few tokens, then cancel (or close the socket) and time until the
    fake server sees its connection closed."""
    import aiohttp

    from tests.fakes.llm_server import slow

    fake.default = slow(LONG_ANSWER, delay=delay)
    results: dict[str, list[float]] = {"cancel": [], "disconnect": [], "end_frame": []}
    failures: list[str] = []
    modes = ["cancel"] * cancels + ["disconnect"] * disconnects
    async with aiohttp.ClientSession() as session:
        for mode, conversation_id in zip(modes, conversations, strict=False):
            before = len(fake.requests)
            ws = await session.ws_connect(
                daphne.ws_url(conversation_id), headers=_ws_headers(world, daphne)
            )
            try:
                await ws.send_json({"type": "ask", "question": next_question()})
                tokens = 0
                while tokens < tokens_before:
                    frame = await _frame(ws, 30)
                    if frame is None or frame["type"] == "error":
                        raise RuntimeError(f"stream failed before cancelling: {frame}")
                    tokens += frame["type"] == "token"
                record = fake.requests[before]
                cut_at = time.monotonic()
                if mode == "cancel":
                    await ws.send_json({"type": "cancel"})
                    while True:
                        frame = await _frame(ws, 30)
                        if frame is None:
                            raise RuntimeError("socket closed before the end frame")
                        if frame["type"] == "end":
                            results["end_frame"].append((time.monotonic() - cut_at) * 1000)
                            break
                else:
                    await ws.close()
                closed = await asyncio.to_thread(record.client_closed.wait, 10)
                if not closed or record.client_closed_at is None:
                    failures.append(f"{mode}: upstream still open after 10 s")
                    continue
                results[mode].append((record.client_closed_at - cut_at) * 1000)
            except (RuntimeError, TimeoutError, aiohttp.ClientError) as exc:
                failures.append(f"{mode}: {exc}")
            finally:
                await ws.close()
    return {
        "runs": {"cancel": cancels, "disconnect": disconnects},
        "tokens_before_cut": tokens_before,
        "failures": failures,
        "cancel_to_upstream_closed_ms": summary(results["cancel"]),
        "cancel_to_end_frame_ms": summary(results["end_frame"]),
        "disconnect_to_upstream_closed_ms": summary(results["disconnect"]),
    }


def turns_saved(conversations: list[int]) -> dict[str, Any]:
    """Assistant messages by status and checkpoints, for the given conversations."""
    from django.db.models import Count

    from agents.models import Checkpoint, Message

    statuses = dict(
        Message.objects.filter(conversation_id__in=conversations, role="assistant")
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    checkpoints = Checkpoint.objects.filter(conversation_id__in=conversations).count()
    return {"assistant_messages": statuses, "checkpoints": checkpoints}


def turns_saved_wait(conversations: list[int], expected: int, *, timeout: float) -> None:
    """Wait until `expected` turns of `conversations` have a checkpoint: a closed socket's turn is
    saved after the upstream is closed, and stopping daphne first would cut that save short."""
    from agents.models import Checkpoint

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Checkpoint.objects.filter(conversation_id__in=conversations).count() >= expected:
            return
        time.sleep(0.1)


def websocket_benchmarks(
    world: BenchWorld, args: argparse.Namespace, only: int | None
) -> dict[str, Any]:
    """2b, 3 and 4 against one daphne process and one fake server in this process."""
    from bench._agents_fake import TimedFakeServer
    from tests.fakes.llm_server import ok

    results: dict[str, Any] = {}
    ttft_conversations = conversations_create(
        world, -(-args.ws_turns // TURNS_PER_CONVERSATION), title="ws-ttft"
    )
    concurrent = conversations_create(world, args.clients, title="concurrent")
    warm = conversations_create(world, 2, title="ws-warm-up")
    cancels = conversations_create(world, args.cancels + args.disconnects, title="cancel")
    log_path = Path(tempfile.gettempdir()) / "finrag-bench-agents-daphne.log"
    with (
        TimedFakeServer(default=ok(ANSWER)) as fake,
        DaphneServer(environ=provider_environ(fake.url), log_path=log_path) as daphne,
    ):
        results["daphne_startup_s"] = daphne.startup_s

        async def run() -> None:
            results["warm_up_s"] = await websocket_warm_up(world, daphne, fake, warm, 10)
            if only in (None, 2):
                results["ttft"] = await websocket_ttft(
                    world, daphne, fake, ttft_conversations, args.ws_turns
                )
            if only in (None, 3):
                results["concurrent"] = await concurrent_websockets(
                    world,
                    daphne,
                    fake,
                    concurrent,
                    delay=args.stream_delay,
                    timeout=args.ws_timeout,
                )
            if only in (None, 4):
                results["cancel"] = await cancel_latency(
                    world,
                    daphne,
                    fake,
                    cancels,
                    cancels=args.cancels,
                    disconnects=args.disconnects,
                    tokens_before=3,
                    delay=args.cancel_delay,
                )

        asyncio.run(run())
        if "cancel" in results:
            turns_saved_wait(cancels, args.cancels + args.disconnects, timeout=15)
    if "concurrent" in results:
        results["concurrent"]["saved"] = turns_saved(concurrent)
    if "cancel" in results:
        results["cancel"]["saved"] = turns_saved(cancels)
    results["daphne_log"] = str(log_path)
    return results


def concurrent_table(result: dict[str, Any]) -> str:
    saved = result["saved"]
    complete = saved["assistant_messages"].get("complete", 0)
    rows = [
        ("clients connected", f"{result['connected']} / {result['clients']}"),
        ("errors (connection, error frames, timeouts)", str(result["errors"])),
        ("answers complete and equal to the scripted text", str(result["complete_and_exact"])),
        ("turns saved complete / checkpoints", f"{complete} / {saved['checkpoints']}"),
        ("streams open at the same time (max)", str(result["max_streams_at_once"])),
        ("scripted stream length (fake server)", f"{result['scripted_stream_s']:.1f} s"),
    ]
    lines = ["| check | value |", "| --- | ---: |"]
    lines += [f"| {label} | {value} |" for label, value in rows]
    lines += [
        "",
        "| from sending `ask` to | p50 ms | p95 ms | max ms |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, key in (
        ("first `token` frame", "first_token_ms"),
        ("last `token` frame", "last_token_ms"),
        ("`end` frame (turn saved)", "end_frame_ms"),
    ):
        stats = result[key]
        lines.append(
            f"| {label} | {_ms(stats['p50'])} | {_ms(stats['p95'])} | {_ms(stats['max'])} |"
        )
    return "\n".join(lines)


def ttft_table(in_process: dict[str, Any] | None, websocket: dict[str, Any] | None) -> str:
    lines = [
        "| time to first token | n | p50 ms | p95 ms | max ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]

    def row(label: str, stats: dict[str, Any]) -> None:
        lines.append(
            f"| {label} | {stats['n']} | {_ms(stats['p50'])} | {_ms(stats['p95'])} | "
            f"{_ms(stats['max'])} |"
        )

    if in_process is not None:
        row("in process: first `token` frame after the turn starts", in_process["frame_ms"])
        row(
            "in process: the attempt's own (AttemptRecord.first_token_ms)", in_process["attempt_ms"]
        )
        row("**in process: added by us**", in_process["added_ms"])
        row("in process: added by us, attempt timed by probe", in_process["added_precise_ms"])
    if websocket is not None:
        row(
            "websocket: first `token` frame after `ask` is sent", websocket["client_first_token_ms"]
        )
        row("websocket: the fake server's own", websocket["fake_server_first_token_ms"])
        row("**websocket: added by us (daphne, SDK, HTTP included)**", websocket["added_ms"])
    return "\n".join(lines)


def cancel_table(result: dict[str, Any]) -> str:
    lines = ["| measure | n | p50 ms | p95 ms | max ms |", "| --- | ---: | ---: | ---: | ---: |"]
    for label, key in (
        ("`cancel` frame sent -> upstream connection closed", "cancel_to_upstream_closed_ms"),
        ("`cancel` frame sent -> `end` frame received", "cancel_to_end_frame_ms"),
        ("socket closed -> upstream connection closed", "disconnect_to_upstream_closed_ms"),
    ):
        stats = result[key]
        lines.append(
            f"| {label} | {stats['n']} | {_ms(stats['p50'])} | {_ms(stats['p95'])} | "
            f"{_ms(stats['max'])} |"
        )
    saved = result["saved"]
    lines.append("")
    lines.append(
        f"Saved: {saved['assistant_messages']} assistant messages, {saved['checkpoints']} "
        f"checkpoints; failures: {result['failures'] or 'none'}."
    )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------


def _merge_results(update: dict[str, Any], path: Path = RESULT_PATH) -> dict[str, Any]:
    existing: dict[str, Any] = {}
    if path.exists():
        existing = json.loads(path.read_text())
    existing.update(update)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(existing, indent=2, default=str) + "\n")
    return existing


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", type=int, choices=(1, 2, 3, 4))
    parser.add_argument("--turns", type=int, default=300, help="sequential in-process turns")
    parser.add_argument("--throughput-turns", type=int, default=300)
    parser.add_argument("--concurrency", default="1,4,16", help="throughput concurrencies")
    parser.add_argument("--seconds", type=float, default=90.0, help="time limit per pass")
    parser.add_argument("--ws-turns", type=int, default=100, help="sequential websocket turns")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--stream-delay", type=float, default=0.05, help="s per word (bench 3)")
    parser.add_argument("--ws-timeout", type=float, default=60.0)
    parser.add_argument("--cancels", type=int, default=30)
    parser.add_argument("--disconnects", type=int, default=10)
    parser.add_argument("--cancel-delay", type=float, default=0.05, help="s per word (bench 4)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--label", default="", help="what code was measured, for the JSON")
    parser.add_argument(
        "--output", type=Path, default=RESULT_PATH, help="JSON file the results are merged into"
    )
    return parser.parse_args(argv)


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    only = args.only
    run_started = time.perf_counter()
    load_before = os.getloadavg()
    bench_django_setup()
    update: dict[str, Any] = {}
    tables: list[str] = []
    try:
        setup_started = time.perf_counter()
        world = world_create()
        setup = {
            "date": datetime.now(tz=UTC).date().isoformat(),
            "label": args.label,
            "git_commit": _git_commit(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "settings": "bench._agents_settings (config.settings.local, DEBUG=false)",
            "scratch_database": SCRATCH_DATABASE,
            "documents": world.documents_ready,
            "chunks": world.chunks,
            "world_setup_s": time.perf_counter() - setup_started,
            "answer_words": len(ANSWER.split()),
            "load_average_before": load_before,
        }
        in_process: dict[str, Any] | None = None
        if only in (None, 1, 2):
            measured = in_process_benchmarks(world, args, throughput=only in (None, 1))
            samples: list[TurnSample] = measured["samples"]
            in_process = {
                "frame_ms": summary([s.first_token_frame_ms for s in samples]),
                "attempt_ms": summary([s.attempt_first_token_ms for s in samples]),
                "added_ms": summary([s.added_ttft_ms for s in samples]),
                "added_precise_ms": summary(
                    [
                        s.first_token_frame_ms - s.parts["provider_probe_first_token_ms"]
                        for s in samples
                        if s.first_token_frame_ms is not None
                        and s.parts.get("provider_probe_first_token_ms") is not None
                    ]
                ),
            }
            if only in (None, 1):
                overhead = pipeline_overhead_result(samples, measured["throughput"])
                update["pipeline_overhead"] = {"setup": setup, **overhead}
                tables.append("## 1. Pipeline overhead\n\n" + pipeline_overhead_table(overhead))
        websocket: dict[str, Any] = {}
        if only in (None, 2, 3, 4):
            websocket = websocket_benchmarks(world, args, only)
        if only in (None, 2):
            added = (websocket.get("ttft") or {}).get("added_ms", {})
            update["time_to_first_token"] = {
                "setup": setup,
                "in_process": in_process,
                "websocket": websocket.get("ttft"),
                "target_added_p95_ms": TARGET_ADDED_TTFT_P95_MS,
                "met": {
                    "in_process": in_process is not None
                    and (in_process["added_ms"]["p95"] or 1e9) <= TARGET_ADDED_TTFT_P95_MS,
                    "websocket": (added.get("p95") or 1e9) <= TARGET_ADDED_TTFT_P95_MS,
                },
            }
            tables.append(
                "## 2. Time to first token added by us\n\n"
                + ttft_table(in_process, websocket.get("ttft"))
            )
        if "concurrent" in websocket:
            concurrent = websocket["concurrent"]
            saved = concurrent["saved"]
            concurrent["met"] = {
                "zero_errors": concurrent["errors"] == 0,
                "all_complete": concurrent["complete_and_exact"] == concurrent["clients"],
                "all_checkpointed": saved["checkpoints"] == concurrent["clients"],
            }
            update["concurrent_websockets"] = {
                "setup": {**setup, "daphne_startup_s": websocket["daphne_startup_s"]},
                "stream_delay_s": args.stream_delay,
                **concurrent,
            }
            tables.append(
                f"## 3. {concurrent['clients']} concurrent websocket conversations\n\n"
                + concurrent_table(concurrent)
            )
        if "cancel" in websocket:
            update["cancel_latency"] = {
                "setup": setup,
                "stream_delay_s": args.cancel_delay,
                **websocket["cancel"],
            }
            tables.append("## 4. Cancel latency\n\n" + cancel_table(websocket["cancel"]))
    finally:
        if not args.keep:
            scratch_database_drop(SCRATCH_DATABASE)
    load_after = os.getloadavg()
    for section in update.values():
        section["setup"]["load_average_after"] = load_after
        section["setup"]["runtime_s"] = time.perf_counter() - run_started
    _merge_results(update, args.output)
    print()
    print("\n\n".join(tables))
    print()
    print(
        f"Load average {load_before[0]:.2f} -> {load_after[0]:.2f} on {os.cpu_count()} CPUs; "
        f"wrote {args.output} in {time.perf_counter() - run_started:.0f} s."
    )
    return update


if __name__ == "__main__":
    main()
