"""Set up Django for a bench script, optionally on a scratch database of the same server."""

from __future__ import annotations

import os
from typing import Any

DEFAULT_SETTINGS = "config.settings.local"


def _server_settings() -> dict[str, Any]:
    """The configured default database (starting the embedded server if that is the default)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS)
    from django.conf import settings

    return settings.DATABASES["default"]


def _connect(database: dict[str, Any], *, dbname: str, autocommit: bool = True) -> Any:
    import psycopg

    # A DATABASE_URL with ?host=/socket/dir puts the host in OPTIONS rather than HOST.
    options = database.get("OPTIONS") or {}
    return psycopg.connect(
        dbname=dbname,
        user=database.get("USER") or None,
        password=database.get("PASSWORD") or None,
        host=database.get("HOST") or options.get("host") or None,
        port=database.get("PORT") or options.get("port") or None,
        autocommit=autocommit,
    )


def scratch_database_drop(name: str) -> None:
    """Drop a scratch database (closing anything still connected to it); a no-op when absent."""
    from django.db import connections

    connections.close_all()
    with _connect(_server_settings(), dbname="postgres") as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def django_setup(*, scratch_database: str | None = None, migrate: bool = True) -> str:
    """Configure Django; with scratch_database, point it at a fresh, migrated database.

    The scratch database lives on the same server as the app's database and is created anew
    (an older copy is dropped first) with the vector extension, so a benchmark measures the real
    migrated schema and indexes without touching the app's rows. Needs a superuser, as the
    embedded server has. Returns the name of the database Django now uses.
    """
    import django

    database = _server_settings()
    if scratch_database is None:
        django.setup()
        return str(database["NAME"])
    if scratch_database == database["NAME"]:
        raise ValueError("The scratch database must not be the app's own database.")
    with _connect(database, dbname="postgres") as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{scratch_database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{scratch_database}"')
    with _connect(database, dbname=scratch_database) as conn:
        # The extension is untrusted: only a superuser may create it.
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    # Django builds its connections lazily from settings.DATABASES: renaming before setup is enough.
    database["NAME"] = scratch_database
    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
    return scratch_database


def psycopg_connect(*, autocommit: bool = True) -> Any:
    """A new psycopg connection to the database Django uses (call after django_setup)."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    return _connect(database, dbname=str(database["NAME"]), autocommit=autocommit)
