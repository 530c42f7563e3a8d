"""Fault drills (make drills): the production server under load while one component fails.

Each drill runs locust against gunicorn (bench/load/run.py's private Redis, Postgres and fake
provider, 127.0.0.1 only), injects its fault at a fixed moment, and prints what clients and the
database saw against what is expected:

- provider: the Anthropic API answers 529 for 15 s. Expected: no client error (failover to
  OpenAI), the anthropic breaker opens (rag_provider_circuit_state 2), failovers are counted.
- redis: Redis stops for 5 s and comes back. Expected: rate limits fail open
  (rag_redis_errors_total{policy="fail_open"}), the channel layer waits and reconnects
  (component="channel_layer", policy="retry"), no websocket turn is cut without an error frame,
  turns after the restart succeed, nothing left open in the database.
- postgres: the database restarts (fast shutdown). Expected: answers resume after it; a question
  during it gets a JSON 503 with Retry-After, websocket turns get error frames (never a silent
  cut), and nothing is half-written (every question has its answer row, no hold left).
- celery: the Celery worker (with beat) is SIGKILLed mid-ingest and started again, with the
  ingestion time limit at 60 s. Expected: within minutes the document is delivered again (the
  broker's visibility timeout, or the ingest-stuck-sweep job) and ends ready, or failed with its
  reason; never stuck in "processing".

    python -m bench.load.drills [--only provider,redis]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.load.run import (
    BIN,
    DATA,
    REDIS_PORT,
    RESULTS,
    ROOT,
    Services,
    base_env,
    database_checks,
    locust_start,
    log,
    postgres_ctl,
    prepare_database,
    samples_read,
    server_start,
    start_backing_services,
    summarise,
    wait_until,
)

DRILLS = ("provider", "redis", "postgres", "celery")


def metric_values(url: str, name: str) -> dict[str, float]:
    """{label string: value} of one metric family on the server's /metrics page."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:  # noqa: S310
        text = response.read().decode()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                key = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                values[key] = sample.value
    return values


def ask_json(url: str, key: str) -> tuple[int, dict[str, str], str]:
    """One REST question in a new conversation: (status, headers, body)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    try:
        request = urllib.request.Request(  # noqa: S310
            f"{url}/api/v1/conversations", data=b"{}", headers=headers, method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            conversation = json.loads(response.read())["id"]
        request = urllib.request.Request(  # noqa: S310
            f"{url}/api/v1/conversations/{conversation}/messages",
            data=json.dumps({"question": "Apple net sales fiscal 2019?"}).encode(),
            headers=headers,
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read().decode()[:300]
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()[:300]
    except OSError as exc:
        return 0, {}, f"{type(exc).__name__}: {exc}"


class Drill:
    """A load of `users` for `seconds`, with `inject(t0)` run alongside it."""

    def __init__(self, name: str, ctx: dict[str, Any], *, users: int = 30, seconds: int = 40):
        self.name, self.ctx, self.users, self.seconds = name, ctx, users, seconds
        self.notes: dict[str, Any] = {}

    def run(self, inject: Callable[[float], None]) -> tuple[list[dict[str, Any]], dt.datetime]:
        since = dt.datetime.now(dt.UTC)
        samples_file = DATA / f"samples_drill_{self.name}.jsonl"
        locust = locust_start(
            url=self.ctx["url"],
            env=self.ctx["env"],
            keys=self.ctx["keys"],
            users=self.users,
            spawn_rate=30,
            seconds=self.seconds,
            samples_file=samples_file,
            name=f"drill_{self.name}",
        )
        t0 = time.time()
        try:
            inject(t0)
        finally:
            locust.wait(self.seconds + 120)
        return samples_read(samples_file), since

    @staticmethod
    def sleep_until(t0: float, offset: float) -> None:
        time.sleep(max(0.0, t0 + offset - time.time()))


def window(samples: list[dict[str, Any]], start: float, end: float) -> list[dict[str, Any]]:
    return [s for s in samples if start <= s["at"] < end]


def ws_cut(samples: list[dict[str, Any]]) -> list[str]:
    """Websocket turns that ended without a frame saying why: the socket closed under them, or
    the client's call raised (a handshake refused, a reset). An error frame is not a cut."""
    return [
        str(s.get("error"))
        for s in samples
        if s["kind"] == "ws"
        and not s.get("ok")
        and (str(s.get("error", "")).startswith("closed") or "detail" in s)
    ]


def drill_provider(ctx: dict[str, Any]) -> dict[str, Any]:
    drill = Drill("provider", ctx)
    url, fake = ctx["url"], ctx["fake"]
    seen: dict[str, Any] = {}

    def inject(t0: float) -> None:
        drill.sleep_until(t0, 8)
        seen["failovers_before"] = sum(metric_values(url, "rag_provider_failovers_total").values())
        log("drill provider: the Anthropic API answers 529 from now")
        fake.send_signal(signal.SIGUSR1)
        seen["failing_from"] = time.time()
        drill.sleep_until(t0, 20)
        seen["circuit_during"] = metric_values(url, "rag_provider_circuit_state")
        drill.sleep_until(t0, 23)
        fake.send_signal(signal.SIGUSR2)
        seen["failing_until"] = time.time()
        log("drill provider: the Anthropic API answers again")

    samples, since = drill.run(inject)
    failovers = metric_values(url, "rag_provider_failovers_total")
    summary = summarise(samples, expected_errors=set())
    anthropic_open = seen["circuit_during"].get("provider=anthropic", 0)
    during = window(samples, seen["failing_from"] + 1, seen["failing_until"])
    db = database_checks(since)
    checks = [
        ("no client error while the provider fails", summary["failed"], summary["failed"] == 0),
        ("turns answered while it failed", len(during), len(during) > 0),
        ("anthropic breaker open during the failure (2)", anthropic_open, anthropic_open == 2),
        (
            "failovers anthropic -> openai counted",
            failovers,
            sum(failovers.values()) > seen["failovers_before"],
        ),
        ("no budget hold left", db["active_holds"], db["active_holds"] == 0),
        (
            "ledger rows = provider calls",
            db["model_ledger_rows"],
            db["answers_whose_ledger_rows_differ_from_attempts"] == 0,
        ),
    ]
    return {"summary": summary, "database": db, "seen": seen, "checks": checks}


def drill_redis(ctx: dict[str, Any]) -> dict[str, Any]:
    drill = Drill("redis", ctx, seconds=45)
    url, services = ctx["url"], ctx["services"]
    seen: dict[str, Any] = {}

    def inject(t0: float) -> None:
        from config import embedded

        drill.sleep_until(t0, 10)
        name, redis = next((n, p) for n, p in services.processes if n == "redis")
        log("drill redis: stopping Redis")
        seen["down_at"] = time.time()
        redis.send_signal(signal.SIGKILL)
        redis.wait(10)
        services.processes.remove((name, redis))
        time.sleep(2)
        seen["during"] = ask_json(url, ctx["key"])
        drill.sleep_until(t0, 15)
        start_redis(services, ctx["env"])
        wait_until(lambda: embedded.redis_answers(port=REDIS_PORT), 10, "Redis")
        seen["up_at"] = time.time()
        log("drill redis: Redis is back")

    samples, since = drill.run(inject)
    summary = summarise(samples, expected_errors=set())
    outage = window(samples, seen["down_at"], seen["up_at"] + 5)
    after = window(samples, seen["up_at"] + 5, time.time())
    errors_after = [s for s in after if not s.get("ok")]
    redis_errors = metric_values(url, "rag_redis_errors_total")
    fail_open = sum(v for k, v in redis_errors.items() if "policy=fail_open" in k)
    layer_retries = sum(v for k, v in redis_errors.items() if "component=channel_layer" in k)
    cut = ws_cut(samples)
    db = database_checks(since)
    checks = [
        ("rate limits failed open (rag_redis_errors_total)", fail_open, fail_open > 0),
        (
            "channel layer waited for Redis and reconnected (component=channel_layer, retry)",
            layer_retries,
            layer_retries > 0,
        ),
        (
            "no websocket turn cut without an error frame (handshakes included)",
            f"{len(cut)} {sorted(set(cut))}",
            not cut,
        ),
        (
            "turns after the restart succeed",
            f"{len(after) - len(errors_after)}/{len(after)}",
            after and not errors_after,
        ),
        (
            "every question has its answer row",
            db["questions_without_answer"],
            db["questions_without_answer"] == 0,
        ),
        ("no budget hold left", db["active_holds"], db["active_holds"] == 0),
    ]
    seen["outage_turns"] = len(outage)
    seen["outage_errors"] = summarise(outage, expected_errors=set())["errors"] if outage else {}
    return {"summary": summary, "database": db, "seen": seen, "checks": checks}


def start_redis(services: Services, env: dict[str, str]) -> None:
    from config import embedded

    services.start(
        "redis",
        [
            embedded.redis_executable(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(REDIS_PORT),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(DATA / "redis"),
        ],
        env,
    )


def drill_postgres(ctx: dict[str, Any]) -> dict[str, Any]:
    drill = Drill("postgres", ctx, seconds=45)
    url = ctx["url"]
    seen: dict[str, Any] = {}

    def inject(t0: float) -> None:
        drill.sleep_until(t0, 10)
        log("drill postgres: stopping the database")
        seen["down_at"] = time.time()
        postgres_ctl(DATA / "postgres", "stop", "-m", "fast")
        seen["during"] = ask_json(url, ctx["key"])
        time.sleep(3)
        postgres_ctl(DATA / "postgres", "restart", "-m", "fast")
        seen["up_at"] = time.time()
        log("drill postgres: the database is back")

    samples, since = drill.run(inject)
    summary = summarise(samples, expected_errors=set())
    after = window(samples, seen["up_at"] + 5, time.time())
    errors_after = [s for s in after if not s.get("ok")]
    status, headers, body = seen["during"]
    headers = {k.lower(): v for k, v in headers.items()}  # uvicorn sends them in lower case
    is_json = body.startswith("{")
    cut = ws_cut(samples)
    db = database_checks(since)
    checks = [
        (
            "no websocket turn cut without an error frame (handshakes included)",
            f"{len(cut)} {sorted(set(cut))}",
            not cut,
        ),
        (
            "every question has its answer row (nothing half-written)",
            db["questions_without_answer"],
            db["questions_without_answer"] == 0,
        ),
        (
            "turns after the restart succeed",
            f"{len(after) - len(errors_after)}/{len(after)}",
            after and not errors_after,
        ),
        (
            "a question during the outage: JSON 503 with Retry-After",
            f"{status} {'JSON' if is_json else 'not JSON'} "
            f"Retry-After={headers.get('retry-after')}",
            status == 503 and is_json and bool(headers.get("retry-after")),
        ),
        ("no budget hold left", db["active_holds"], db["active_holds"] == 0),
        (
            "every answer is checkpointed",
            db["answers_without_checkpoint"],
            db["answers_without_checkpoint"] == 0,
        ),
    ]
    seen["outage_errors"] = summarise(
        window(samples, seen["down_at"], seen["up_at"] + 5), expected_errors=set()
    )["errors"]
    return {"summary": summary, "database": db, "seen": seen, "checks": checks}


def drill_celery(ctx: dict[str, Any]) -> dict[str, Any]:
    import django

    django.setup()
    from accounts.models import Tenant
    from retrieval.models import Document
    from retrieval.services import DocumentMetadata, document_register

    services = ctx["services"]
    # Short limits so the drill ends in minutes; the mechanisms are the production ones: the
    # broker's visibility timeout (limit + 60 s) and the beat's ingest-stuck-sweep (every minute,
    # documents processing longer than limit + margin). The worker runs beat (-B), as make demo's.
    env = {
        **ctx["env"],
        "INGEST_TASK_SOFT_TIME_LIMIT": "45",
        "INGEST_TASK_TIME_LIMIT": "60",
        "INGEST_STUCK_MARGIN_SECONDS": "15",
    }
    worker_command = [
        str(BIN / "celery"),
        "-A",
        "config",
        "worker",
        "-B",
        "--schedule",
        str(DATA / "celerybeat-schedule"),
        "--loglevel",
        "WARNING",
        "--concurrency",
        "1",
        "--pool",
        "solo",
    ]
    worker = services.start("celery", worker_command, env)
    tenant = Tenant.objects.get(slug="loadtest")
    corpus = ROOT / "retrieval" / "demo_corpus"
    body = "\n\f".join(p.read_text() for p in sorted(corpus.glob("*.md")) * 3)
    body += f"\n\nDrill marker {time.time()}\n"
    document, _ = document_register(
        tenant=tenant,
        user=None,
        data=body.encode(),
        filename="drill-celery.md",
        metadata=DocumentMetadata(
            title="Celery drill", company="Apple Inc.", ticker="AAPL", fiscal_year=2020
        ),
        queue=True,
    )
    seen: dict[str, Any] = {"document_id": document.pk}
    deadline = time.time() + 120
    while time.time() < deadline:
        document.refresh_from_db()
        if document.status == "processing":
            break
        time.sleep(0.2)
    seen["status_when_killed"] = document.status
    log(f"drill celery: SIGKILL to the worker with document {document.pk} {document.status}")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(10)
    services.processes.remove(("celery", worker))
    services.start("celery", worker_command, env)
    killed_at = time.time()
    status = document.status
    while time.time() - killed_at < 240:
        document.refresh_from_db()
        status = document.status
        if status in ("ready", "failed"):
            break
        time.sleep(1)
    seen["final_status"] = status
    seen["seconds_after_kill"] = round(time.time() - killed_at, 1)
    seen["error"] = f"{document.error_code} {document.error_message}".strip()
    seen["deliveries"] = document.ingest_attempts
    checks = [
        (
            "document ready or failed with its reason within 240 s of the kill "
            "(time limit 60 s + margin 15 s + one beat tick; was 1 h)",
            f"{status} {seen['error']}".strip(),
            status == "ready" or (status == "failed" and bool(seen["error"])),
        ),
        (
            "was killed mid-ingest",
            seen["status_when_killed"],
            seen["status_when_killed"] == "processing",
        ),
    ]
    Document.objects.filter(pk=document.pk).delete()
    return {"seen": seen, "checks": checks}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--only", default=",".join(DRILLS))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    args.users, args.drain = 30, 20.0
    DATA.mkdir(parents=True, exist_ok=True)
    services = Services()
    results: dict[str, Any] = {}
    try:
        env = base_env(args)
        start_backing_services(services, env)
        keys = prepare_database(env, args.users)
        os.environ.update(env)
        _server, url = server_start("gunicorn", args, env, keys, services)
        fake = next(p for n, p in services.processes if n == "fake_provider")
        ctx = {
            "url": url,
            "env": env,
            "keys": keys,
            "services": services,
            "fake": fake,
            "key": json.loads(Path(keys).read_text())["keys"][0],
        }
        for name in args.only.split(","):
            log(f"drill {name}: start")
            try:
                results[name] = globals()[f"drill_{name}"](ctx)
            except Exception as exc:
                results[name] = {
                    "checks": [(f"drill ran ({type(exc).__name__}: {exc})", None, False)]
                }
            with contextlib.suppress(Exception):
                wait_until(lambda: ask_json(url, ctx["key"])[0] == 200, 60, "the server to answer")
    finally:
        services.stop_all()
        from config import embedded

        embedded.postgres_stop(DATA / "postgres")
    ok = True
    for name, result in results.items():
        print(f"\n== drill {name}")
        for key in ("seen", "summary", "database"):
            if key in result:
                print(f"   {key}: {json.dumps(result[key], default=str)[:600]}")
        for check, value, passed in result["checks"]:
            ok = ok and bool(passed)
            print(f"   [{'PASS' if passed else 'FAIL'}] {check}: {value}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "drills.json"
    out.write_text(
        json.dumps(
            {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "drills": results},
            indent=2,
            default=str,
        )
    )
    print(f"\nresults: {out.relative_to(ROOT)}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
