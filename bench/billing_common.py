"""Shared set-up of the billing benchmarks: a dedicated PostgreSQL, Django on it, and timings.

The billing benchmarks run on a private PostgreSQL 18 (the same pgserver build the project
embeds) started in a temporary directory with max_connections raised to 250, because 100
concurrent workers need 100 connections and the shared development server allows 100 in total.
Everything else is that build's defaults (fsync and synchronous_commit on). The server is stopped
and its directory removed on exit.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DATABASE = "finrag_bench_billing"


@dataclass(frozen=True)
class Timing:
    runs: int
    p50_ms: float
    p95_ms: float
    max_ms: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "runs": self.runs,
            "p50_ms": round(self.p50_ms, 2),
            "p95_ms": round(self.p95_ms, 2),
            "max_ms": round(self.max_ms, 2),
        }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def timed(fn: Callable[[], Any], *, runs: int, warmup: int = 3) -> Timing:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return Timing(
        runs=runs,
        p50_ms=statistics.median(samples),
        p95_ms=percentile(samples, 0.95),
        max_ms=max(samples),
    )


def _pg_user() -> str | None:
    return "pgserver" if os.geteuid() == 0 else None


@contextmanager
def dedicated_postgres(*, max_connections: int = 250) -> Iterator[str]:
    """Start a private PostgreSQL with `max_connections`; yields its socket directory."""
    import pgserver
    import psycopg

    root = Path(tempfile.mkdtemp(prefix="finrag-billing-bench-"))
    root.chmod(0o777)  # pgserver runs the server as an unprivileged user when we are root
    pgdata = root / "data"
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    try:
        uri = server.get_uri()
        with psycopg.connect(uri, autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET max_connections = {int(max_connections)}")
        pgserver.pg_ctl(["-w", "restart", "-m", "fast"], pgdata=pgdata, user=_pg_user())  # type: ignore[attr-defined]
        yield str(pgdata)
    finally:
        try:
            pgserver.pg_ctl(["-w", "stop", "-m", "fast"], pgdata=pgdata, user=_pg_user())  # type: ignore[attr-defined]
        finally:
            shutil.rmtree(root, ignore_errors=True)


def django_on(socket_dir: str, *, settings_module: str = "config.settings.test") -> None:
    """Create the bench database on the private server (with pgvector), point Django at it and
    run the real migrations. Test settings: DEBUG off, locmem email."""
    import psycopg

    base = f"postgresql://postgres@/postgres?host={socket_dir}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}"')
        conn.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    with psycopg.connect(
        f"postgresql://postgres@/{BENCH_DATABASE}?host={socket_dir}", autocommit=True
    ) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    os.environ["DATABASE_URL"] = f"postgres://postgres@/{BENCH_DATABASE}?host={socket_dir}"
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def psycopg_dsn(socket_dir: str) -> str:
    return f"postgresql://postgres@/{BENCH_DATABASE}?host={socket_dir}"


def machine() -> dict[str, Any]:
    """The machine, with its load: the project machine is shared, so figures vary with it."""
    return {
        "cpus": os.cpu_count(),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "postgres": "pgserver PostgreSQL 18 (private instance, max_connections 250)",
    }
