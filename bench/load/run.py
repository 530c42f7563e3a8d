"""The load test and the shutdown drill: the production server under 100 conversations on this
machine, checked against the SLOs and against the database afterwards.

Everything runs on 127.0.0.1 and stops by itself: its own Redis (port 6391), its own embedded
Postgres (.data/loadtest), the fake LLM provider with a real model's timing (bench/load/
fake_provider.py, reached by the real Anthropic SDK through ANTHROPIC_BASE_URL), the server under
test with production settings, and locust (bench/load/locustfile.py).

    python -m bench.load.run                      # daphne (before) then gunicorn (after)
    python -m bench.load.run --servers gunicorn   # the production server only
    python -m bench.load.run --drill shutdown     # SIGTERM one worker mid-load (issue #16)
    python -m bench.load.run --servers gunicorn --provider-first-token 0 0 \
        --provider-tokens-per-second 2000           # an instant provider: our own latency

Checks: p95 time to first token < 2 s, p95 full answer < 5 s, error rate < 0.5%; afterwards every
question has its answer row, every answer its checkpoint and one model ledger row per provider
attempt, no budget hold is active and no stream slot is held. Exits 1 when a check of the last
server fails. Results: bench/results/load_<name>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".data" / "loadtest"
LOGS = ROOT / "logs" / "loadtest"
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent

REDIS_PORT = 6391
FAKE_PORT = 8790
SERVER_PORT = 8780

SLO_TTFT_P95 = 2.0
SLO_FULL_P95 = 5.0
SLO_ERROR_RATE = 0.005

SERVER_COMMANDS = {
    # The setup of issue #13's first measurement: one daphne process.
    "daphne": ["daphne", "-b", "127.0.0.1", "-p", "{port}", "config.asgi:application"],
    # The production command (Dockerfile, compose, k8s, make serve).
    "gunicorn": [
        "gunicorn",
        "-c",
        "config/gunicorn.py",
        "--bind",
        "127.0.0.1:{port}",
        "config.asgi:application",
    ],
}


def log(message: str) -> None:
    print(f"[load {time.strftime('%H:%M:%S')}] {message}", flush=True)


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.25)
    raise RuntimeError(f"timed out waiting for {what}")


def port_answers(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - 127.0.0.1 only
        return bool(response.status == 200)


@dataclass
class Services:
    """The processes this run started; stopped in reverse order, whatever happens."""

    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        LOGS.mkdir(parents=True, exist_ok=True)
        out = (LOGS / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append((name, process))
        return process

    def pid_of(self, name: str) -> int:
        return next(p.pid for n, p in self.processes if n == name)

    def stop_all(self) -> None:
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(5)


def base_env(args: argparse.Namespace) -> dict[str, str]:
    from config import embedded

    pg = postgres_room(embedded.postgres_start(DATA / "postgres"))
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": pg.uri(),
        "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "FINRAG_DATA_DIR": str(DATA),
        "ANTHROPIC_API_KEY": "fake",
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{FAKE_PORT}",
        "OPENAI_API_KEY": "fake",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{FAKE_PORT}/v1",
        "LOG_FILE": "",
        "LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": str(args.workers),
        "SHUTDOWN_DRAIN_SECONDS": str(args.drain),
        "TOKENIZERS_PARALLELISM": "false",
    }


def start_backing_services(
    services: Services, env: dict[str, str], provider: Sequence[str] = ()
) -> None:
    from config import embedded

    (DATA / "redis").mkdir(parents=True, exist_ok=True)
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
    wait_until(lambda: embedded.redis_answers(port=REDIS_PORT), 10, "Redis")
    services.start(
        "fake_provider",
        [
            str(BIN / "python"),
            "-m",
            "bench.load.fake_provider",
            "--port",
            str(FAKE_PORT),
            *provider,
        ],
        env,
    )
    wait_until(lambda: port_answers(FAKE_PORT), 10, "the fake provider")


MAX_CONNECTIONS = 400


def postgres_room(pg: Any) -> Any:
    """Every answer in flight holds a connection: 100 conversations need more than the default
    100 (what production must size too, or put pgbouncer in front)."""
    import psycopg

    from config import embedded

    with psycopg.connect(pg.uri("postgres"), autocommit=True) as conn:
        current = int(conn.execute("SHOW max_connections").fetchone()[0])  # type: ignore[index]
        if current >= MAX_CONNECTIONS:
            return pg
        conn.execute(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
    postgres_ctl(pg.data_dir, "restart", "-m", "fast")
    return embedded.postgres_start(pg.data_dir)


def postgres_ctl(data_dir: Path, *args: str) -> None:
    """pg_ctl on the embedded server; `restart` also starts a stopped one with its old options."""
    import pgserver

    user = "pgserver" if os.geteuid() == 0 else None
    pgserver.pg_ctl(["-w", *args], pgdata=data_dir, user=user)


def prepare_database(env: dict[str, str], users: int) -> Path:
    keys = DATA / "keys.json"
    manage = [str(BIN / "python"), "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [str(BIN / "python"), "-m", "bench.load.setup", "--users", str(users), "--out", str(keys)],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return keys


def warm_up(url: str, keys_file: Path, count: int) -> None:
    """A few questions so every worker has loaded its models before the clock starts."""
    key = json.loads(keys_file.read_text())["keys"][0]

    def one() -> None:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        request = urllib.request.Request(  # noqa: S310
            f"{url}/api/v1/conversations", data=b"{}", headers=headers, method="POST"
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            conversation = json.loads(response.read())["id"]
        body = json.dumps(
            {"question": f"Apple net sales fiscal 2019 warm-up {secrets.token_hex(4)}"}
        )
        request = urllib.request.Request(  # noqa: S310
            f"{url}/api/v1/conversations/{conversation}/messages",
            data=body.encode(),
            headers=headers,
            method="POST",
        )
        with contextlib.suppress(Exception), urllib.request.urlopen(request, timeout=120):  # noqa: S310
            pass

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def children(pid: int) -> list[int]:
    import psutil

    return [child.pid for child in psutil.Process(pid).children()]


def pid_alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by a process and its children (the server's workers)."""
    import psutil

    total = 0.0
    try:
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                total += times.user + times.system
    except psutil.NoSuchProcess:
        pass
    return total


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def summarise(samples: list[dict[str, Any]], *, expected_errors: set[str]) -> dict[str, Any]:
    ttft = [s["ttft"] for s in samples if s.get("ttft") is not None]
    full = [s["full"] for s in samples if s.get("ok") and s.get("full") is not None]
    failed = [s for s in samples if not s.get("ok")]
    expected = [s for s in failed if s.get("error") in expected_errors]
    unexpected = [s for s in failed if s.get("error") not in expected_errors]
    by_error: dict[str, int] = {}
    for s in failed:
        by_error[str(s.get("error"))] = by_error.get(str(s.get("error")), 0) + 1
    return {
        "turns": len(samples),
        "by_kind": {k: sum(1 for s in samples if s["kind"] == k) for k in ("ws", "sse", "json")},
        "complete": sum(1 for s in samples if s.get("status") == "complete"),
        "interrupted": sum(1 for s in samples if s.get("status") == "interrupted"),
        "failed": len(failed),
        "failed_expected": len(expected),
        "failed_unexpected": len(unexpected),
        "errors": by_error,
        "unexpected_examples": unexpected[:5],
        "error_rate": len(unexpected) / len(samples) if samples else 1.0,
        "ttft_p50": percentile(ttft, 50),
        "ttft_p95": percentile(ttft, 95),
        "full_p50": percentile(full, 50),
        "full_p95": percentile(full, 95),
        "full_max": max(full) if full else None,
    }


def database_checks(since: dt.datetime) -> dict[str, Any]:
    """What the database holds for the turns of this phase: nothing lost, nothing left open."""
    import django

    django.setup()
    from django.db import connection

    from accounts.models import Membership, Tenant
    from agents.models import Message
    from billing.models import LedgerEntry, Reservation
    from billing.ratelimit import stream_slots_held

    connection.close()
    tenant = Tenant.objects.get(slug="loadtest")
    questions = Message.objects.filter(tenant=tenant, role="user", created_at__gte=since)
    answers = Message.objects.filter(
        tenant=tenant, role="assistant", created_at__gte=since
    ).select_related("checkpoint")
    answered = set(answers.values_list("query_id", flat=True))
    unanswered = questions.exclude(query_id__in=answered).count()
    ledger: dict[Any, int] = {}
    for query_id in LedgerEntry.objects.filter(
        tenant=tenant, kind="model", created_at__gte=since
    ).values_list("query_id", flat=True):
        ledger[query_id] = ledger.get(query_id, 0) + 1
    no_checkpoint = 0
    attempts = 0
    rows = 0
    mismatched = 0
    statuses: dict[str, int] = {}
    for answer in answers:
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
        checkpoint = getattr(answer, "checkpoint", None)
        if checkpoint is None:
            no_checkpoint += 1
            continue
        # A provider skipped by its open breaker is an attempt without a call: no ledger row.
        made = sum(
            1
            for attempt in checkpoint.state.get("attempts", [])
            if attempt.get("outcome") != "circuit_open"
        )
        written = ledger.get(answer.query_id, 0)
        attempts += made
        rows += written
        mismatched += made != written
    holds = Reservation.objects.filter(
        tenant=tenant, status="active", created_at__gte=since
    ).count()
    slots = sum(
        stream_slots_held(tenant=tenant, user=m.user)
        for m in Membership.objects.filter(tenant=tenant).select_related("user")
    )
    return {
        "questions": questions.count(),
        "answers": sum(statuses.values()),
        "answer_statuses": statuses,
        "questions_without_answer": unanswered,
        "answers_without_checkpoint": no_checkpoint,
        "provider_attempts": attempts,
        "model_ledger_rows": rows,
        "answers_whose_ledger_rows_differ_from_attempts": mismatched,
        "active_holds": holds,
        "stream_slots_held": slots,
    }


def checks_of(summary: dict[str, Any], db: dict[str, Any], drill: dict[str, Any] | None) -> list:
    checks = [
        ("p95 time to first token < 2 s", summary["ttft_p95"], (summary["ttft_p95"] or 99) < 2),
        ("p95 full answer < 5 s", summary["full_p95"], (summary["full_p95"] or 99) < SLO_FULL_P95),
        ("error rate < 0.5%", summary["error_rate"], summary["error_rate"] < SLO_ERROR_RATE),
        (
            "every question has its answer row",
            db["questions_without_answer"],
            not db["questions_without_answer"],
        ),
        (
            "every answer is checkpointed",
            db["answers_without_checkpoint"],
            not db["answers_without_checkpoint"],
        ),
        (
            "ledger rows = provider calls",
            f"{db['model_ledger_rows']}/{db['provider_attempts']}",
            not db["answers_whose_ledger_rows_differ_from_attempts"],
        ),
        ("no budget hold left", db["active_holds"], db["active_holds"] == 0),
        ("no stream slot left", db["stream_slots_held"], db["stream_slots_held"] == 0),
    ]
    if drill is not None:
        checks.append(
            (
                f"SIGTERMed worker exits within drain + 5 s ({drill['drain_seconds'] + 5:.0f} s)",
                drill["worker_exit_seconds"],
                drill["worker_exit_seconds"] is not None
                and drill["worker_exit_seconds"] <= drill["drain_seconds"] + 5,
            )
        )
        checks.append(
            (
                "clients saw no error but the drain's own (service_restarting, 1012)",
                summary["failed_unexpected"],
                summary["failed_unexpected"] == 0,
            )
        )
    return checks


def server_start(
    name: str, args: argparse.Namespace, env: dict[str, str], keys: Path, services: Services
) -> tuple[subprocess.Popen[bytes], str]:
    """Start a server (SERVER_COMMANDS) on SERVER_PORT, wait for /health, warm every worker."""
    port = SERVER_PORT
    url = f"http://127.0.0.1:{port}"
    command = [str(BIN / part) if i == 0 else part for i, part in enumerate(SERVER_COMMANDS[name])]
    command = [part.replace("{port}", str(port)) for part in command]
    log(f"{name}: starting {' '.join(command)}")
    server_env = dict(env)
    if name == "gunicorn":
        # Its own metric files (config/gunicorn.py wipes the directory at start).
        server_env["PROMETHEUS_MULTIPROC_DIR"] = str(DATA / "prometheus")
    server = services.start(name, command, server_env)
    wait_until(lambda: http_ok(f"{url}/health"), 180, f"{name} to answer /health")
    warm_up(url, keys, count=2 * args.workers if name == "gunicorn" else 2)
    return server, url


def locust_start(
    *,
    url: str,
    env: dict[str, str],
    keys: Path,
    users: int,
    spawn_rate: float,
    seconds: int,
    samples_file: Path,
    name: str,
) -> subprocess.Popen[bytes]:
    """locust, headless, for `seconds`; users finish their turn (up to 60 s) when time is up."""
    samples_file.unlink(missing_ok=True)
    locust_env = {**env, "LOAD_KEYS": str(keys), "LOAD_SAMPLES": str(samples_file)}
    log(f"{name}: {users} users for {seconds} s")
    return subprocess.Popen(
        [
            str(BIN / "locust"),
            "-f",
            "bench/load/locustfile.py",
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(spawn_rate),
            "--run-time",
            f"{seconds}s",
            "--stop-timeout",
            "60",
            "--host",
            url,
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--exit-code-on-error",
            "0",
        ],
        cwd=ROOT,
        env=locust_env,
        stdout=(LOGS / f"locust_{name}.log").open("wb"),
        stderr=subprocess.STDOUT,
    )


def samples_read(samples_file: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in samples_file.read_text().splitlines() if line]


def run_phase(
    name: str, args: argparse.Namespace, env: dict[str, str], keys: Path, services: Services
) -> dict[str, Any]:
    import django

    server, url = server_start(name, args, env, keys, services)
    since = dt.datetime.now(dt.UTC)
    samples_file = DATA / f"samples_{name}.jsonl"
    loads: list[tuple[float, float, float]] = []
    cpu = {
        "server": cpu_seconds(server.pid),
        "fake_provider": cpu_seconds(services.pid_of("fake_provider")),
        # Reaped children's time: only locust is reaped during the phase.
        "locust": os.times().children_user + os.times().children_system,
    }
    locust = locust_start(
        url=url,
        env=env,
        keys=keys,
        users=args.users,
        spawn_rate=args.spawn_rate,
        seconds=args.duration,
        samples_file=samples_file,
        name=name,
    )
    drill: dict[str, Any] | None = None
    started = time.monotonic()
    if args.drill == "shutdown":
        while time.monotonic() - started < args.drill_at:
            time.sleep(0.5)
        loads.append(os.getloadavg())
        victim = children(server.pid)[0]
        log(f"drill: SIGTERM to worker {victim} mid-load (drain {args.drain} s)")
        signalled = time.monotonic()
        os.kill(victim, signal.SIGTERM)
        exit_seconds = None
        while time.monotonic() - signalled < args.drain + 30:
            if not pid_alive(victim):
                exit_seconds = time.monotonic() - signalled
                break
            time.sleep(0.1)
        log(f"drill: worker {victim} exited after {exit_seconds} s")
        drill = {
            "worker_pid": victim,
            "drain_seconds": args.drain,
            "worker_exit_seconds": exit_seconds,
        }
    while locust.poll() is None:
        time.sleep(1)
        if time.monotonic() - started > args.duration / 2 and len(loads) < 2:
            loads.append(os.getloadavg())
    loads.append(os.getloadavg())
    cpu["server"] = cpu_seconds(server.pid) - cpu["server"]
    cpu["fake_provider"] = cpu_seconds(services.pid_of("fake_provider")) - cpu["fake_provider"]
    cpu["locust"] = os.times().children_user + os.times().children_system - cpu["locust"]
    stop_started = time.monotonic()
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(args.drain + 30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(5)
    stop_seconds = time.monotonic() - stop_started
    log(f"{name}: stopped after {stop_seconds:.1f} s")
    time.sleep(1)
    samples = samples_read(samples_file)
    # What a client of the draining worker may see: the error frame or 503 of the drain, and a
    # 1012 close (reconnect) when its turn was still busy outside the model at the deadline.
    expected = (
        {"service_restarting", "closed before the turn", "closed 1012 mid-turn"}
        if args.drill
        else set()
    )
    summary = summarise(samples, expected_errors=expected)
    os.environ.update(env)
    django.setup()
    db = database_checks(since)
    checks = checks_of(summary, db, drill)
    return {
        "server": name,
        "command": " ".join(SERVER_COMMANDS[name]),
        "workers": args.workers if name == "gunicorn" else 1,
        "users": args.users,
        "duration_s": args.duration,
        "think_s": [float(env.get("LOAD_THINK_MIN", 5)), float(env.get("LOAD_THINK_MAX", 10))],
        "answers_per_s": round(summary["complete"] / args.duration, 2),
        "load_average": [round(x, 2) for sample in loads for x in sample[:1]],
        "stop_seconds": round(stop_seconds, 1),
        "cpu_seconds": {k: round(v, 1) for k, v in cpu.items()},
        "server_cpu_ms_per_answer": round(1000 * cpu["server"] / max(1, summary["complete"])),
        "summary": summary,
        "database": db,
        "drill": drill,
        "checks": [{"check": c, "value": v, "pass": bool(p)} for c, v, p in checks],
    }


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def report(result: dict[str, Any]) -> bool:
    s = result["summary"]
    print(
        f"\n== {result['server']} ({result['workers']} process(es)), {result['users']} users, "
        f"{result['duration_s']} s, load average {result['load_average']}"
    )
    print(
        f"   turns {s['turns']} {s['by_kind']}: complete {s['complete']}, interrupted "
        f"{s['interrupted']}, failed {s['failed']} {s['errors']}; "
        f"{result['answers_per_s']} answers/s"
    )
    print(
        f"   TTFT p50 {fmt(s['ttft_p50'])} s p95 {fmt(s['ttft_p95'])} s; full answer p50 "
        f"{fmt(s['full_p50'])} s p95 {fmt(s['full_p95'])} s max {fmt(s['full_max'])} s; "
        f"server stopped in {result['stop_seconds']} s"
    )
    print(
        f"   CPU seconds {result['cpu_seconds']}: server "
        f"{result['server_cpu_ms_per_answer']} ms per answer"
    )
    print(f"   database: {result['database']}")
    ok = True
    for check in result["checks"]:
        ok = ok and check["pass"]
        print(f"   [{'PASS' if check['pass'] else 'FAIL'}] {check['check']}: {fmt(check['value'])}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--servers", default="daphne,gunicorn")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--spawn-rate", type=float, default=20)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--drain", type=float, default=20.0)
    parser.add_argument("--drill", choices=["shutdown"], default=None)
    parser.add_argument("--drill-at", type=float, default=20.0)
    parser.add_argument("--name", default="")
    parser.add_argument(
        "--provider-first-token",
        type=float,
        nargs=2,
        default=None,
        metavar=("MIN", "MAX"),
        help="the fake provider's wait for its first word (default 0.5-1.0 s; 0 0: instant)",
    )
    parser.add_argument(
        "--provider-tokens-per-second",
        type=float,
        default=None,
        help="the fake provider's pace after it (default 40)",
    )
    args = parser.parse_args()
    if args.drill:
        args.servers = "gunicorn"
    DATA.mkdir(parents=True, exist_ok=True)
    services = Services()
    results = []
    try:
        env = base_env(args)
        provider: list[str] = []
        if args.provider_first_token is not None:
            provider += ["--first-token", *(str(x) for x in args.provider_first_token)]
        if args.provider_tokens_per_second is not None:
            provider += ["--tokens-per-second", str(args.provider_tokens_per_second)]
        start_backing_services(services, env, provider)
        keys = prepare_database(env, args.users)
        for name in args.servers.split(","):
            results.append(run_phase(name, args, env, keys, services))
    finally:
        services.stop_all()
        from config import embedded

        embedded.postgres_stop(DATA / "postgres")
    ok = True
    for result in results:
        ok = report(result)
    name = args.name or (f"drill_{args.drill}" if args.drill else "_".join(args.servers.split(",")))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"load_{name}.json"
    out.write_text(
        json.dumps(
            {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "runs": results},
            indent=2,
            default=str,
        )
    )
    print(f"\nresults: {out.relative_to(ROOT)}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
