"""Database backups: pg_dump custom-format archives (vectors included) and their restore.

The client tools come from `config.embedded.pg_tool`, the same PostgreSQL 18 build as the
embedded server (or the one on PATH with an external DATABASE_URL), because pg_dump refuses
to dump a server newer than itself. The password travels in PGPASSWORD, never on a command
line that `ps` shows.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config.embedded import pg_tool

_TIMEOUT_S = 6 * 60 * 60


class BackupFailed(Exception):
    """pg_dump, pg_restore or psql exited with an error; the message carries its stderr."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size_bytes: int
    entries: int
    database: str


@dataclass(frozen=True)
class _Target:
    name: str
    args: tuple[str, ...]
    env: dict[str, str]


def _target(db: Mapping[str, Any], *, database: str | None = None) -> _Target:
    name = database or str(db["NAME"])
    # A DATABASE_URL such as postgres://u@/db?host=/socket/dir puts the host in OPTIONS.
    options = db.get("OPTIONS") or {}
    host = db.get("HOST") or options.get("host")
    port = db.get("PORT") or options.get("port")
    args: list[str] = []
    if host:
        args += ["--host", str(host)]
    if port:
        args += ["--port", str(port)]
    if db.get("USER"):
        args += ["--username", str(db["USER"])]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return _Target(name=name, args=tuple(args), env=env)


def _run(command: list[str], *, env: dict[str, str]) -> str:
    # Arguments are a list (no shell) built from settings and a caller-chosen path.
    done = subprocess.run(  # noqa: S603
        command, env=env, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        tool = Path(command[0]).name
        raise BackupFailed(f"{tool} exited with {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def backup_entries(path: Path) -> int:
    """How many table-of-contents entries a custom-format archive holds (reads it in full)."""
    listing = _run([pg_tool("pg_restore"), "--list", str(path)], env=dict(os.environ))
    return sum(1 for line in listing.splitlines() if line and not line.startswith(";"))


def database_backup(*, db: Mapping[str, Any], path: Path) -> BackupResult:
    """Dump the database to `path` in pg_dump's custom format (compressed, schema and data).

    The archive is written beside `path` and renamed into place only once pg_restore can read
    its table of contents, so a failed dump never leaves a file that looks like a backup.
    Raises BackupFailed (pg_dump's error) and FileExistsError when `path` exists.
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} already exists; backups are never overwritten.")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    target = _target(db)
    try:
        _run(
            [
                pg_tool("pg_dump"),
                *target.args,
                "--format=custom",
                "--compress=6",
                "--no-owner",
                "--no-privileges",
                f"--file={partial}",
                target.name,
            ],
            env=target.env,
        )
        entries = backup_entries(partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.rename(path)
    return BackupResult(
        path=path, size_bytes=path.stat().st_size, entries=entries, database=target.name
    )


def backup_path(*, directory: Path, database: str, now: datetime) -> Path:
    """Where a backup taken at `now` goes: <directory>/<database>-<UTC time>.dump."""
    return Path(directory) / f"{database}-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.dump"


def backups_rotate(*, directory: Path, database: str, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups of `database` in `directory`; returns what went.

    Only files named as `backup_path` names them count (the UTC time in the name orders them),
    so archives copied there by hand, conversation archives and `.partial` files are never
    touched. Raises ValueError when keep < 1: rotation must never delete the last backup.
    """
    if keep < 1:
        raise ValueError("Keep at least one backup.")
    pattern = re.compile(rf"^{re.escape(database)}-\d{{8}}T\d{{6}}Z\.dump$")
    directory = Path(directory)
    if not directory.is_dir():
        return []
    backups = sorted(p for p in directory.iterdir() if p.is_file() and pattern.match(p.name))
    doomed = backups[:-keep]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def database_create(*, db: Mapping[str, Any], name: str) -> None:
    """Create an empty database on the same server (for a restore that must not touch the live
    one). Raises BackupFailed when it exists or cannot be created."""
    target = _target(db, database="postgres")
    _run(
        [
            pg_tool("psql"),
            *target.args,
            "--no-psqlrc",
            "--quiet",
            "--set=ON_ERROR_STOP=1",
            "--dbname=postgres",
            f"--command=CREATE DATABASE {_identifier(name)}",
        ],
        env=target.env,
    )


def database_drop(*, db: Mapping[str, Any], name: str) -> None:
    """Drop a database on the same server, disconnecting its sessions (FORCE)."""
    target = _target(db, database="postgres")
    _run(
        [
            pg_tool("psql"),
            *target.args,
            "--no-psqlrc",
            "--quiet",
            "--set=ON_ERROR_STOP=1",
            "--dbname=postgres",
            f"--command=DROP DATABASE IF EXISTS {_identifier(name)} WITH (FORCE)",
        ],
        env=target.env,
    )


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def database_restore(*, db: Mapping[str, Any], path: Path, database: str | None = None) -> int:
    """Restore a custom-format archive into `database` (default: the configured one).

    Existing objects are dropped first and everything runs in one transaction, so a failed
    restore leaves the database as it was. Returns the archive's entry count. Raises
    BackupFailed with pg_restore's error, FileNotFoundError for a missing archive.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist.")
    entries = backup_entries(path)
    target = _target(db, database=database)
    _run(
        [
            pg_tool("pg_restore"),
            *target.args,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={target.name}",
            str(path),
        ],
        env=target.env,
    )
    return entries
