"""manage.py backup and restore: a populated database, dumped and restored into a fresh one,
answers the same search with the same chunks and scores (vectors included)."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import Tenant
from agents.tests.support import glueworks_ingest
from monitoring.backups import backup_entries, database_drop
from retrieval.selectors import chunk_search

FILING = (
    "Glueworks Corp annual report for fiscal 2018.\n\nItem 1. Business\n\n"
    "Glueworks makes industrial adhesives.\n\f"
    "Item 7. Management's Discussion and Analysis\n\n"
    "Net sales were $32,765 million in fiscal 2018.\n"
    "Capital expenditures were $1,577 million in fiscal 2018.\n"
)
QUESTION = "What were Glueworks' capital expenditures in fiscal 2018?"


def search(slug: str) -> list[tuple[int, int, str, float]]:
    tenant = Tenant.objects.get(slug=slug)
    result = chunk_search(tenant=tenant, query=QUESTION, k=5)
    return [(hit.chunk_id, hit.document_id, hit.text, round(hit.score, 6)) for hit in result.hits]


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# Data must be committed for pg_dump (another process) to see it, hence a transactional test.
@pytest.mark.django_db(transaction=True)
def test_backup_restored_into_a_fresh_database_gives_the_same_search_results(analyst, tmp_path):
    glueworks_ingest(analyst.tenant, FILING)
    expected = search(analyst.tenant.slug)
    assert expected
    assert any("1,577" in text for _, _, text, _ in expected)

    path = tmp_path / "finrag.dump"
    output = run("backup", "--to", str(path))
    assert "Backed up database" in output
    assert path.stat().st_size > 0
    assert backup_entries(path) > 10

    db = settings.DATABASES["default"]
    fresh = f"finrag_restore_{uuid.uuid4().hex[:10]}"
    original = connection.settings_dict["NAME"]
    try:
        output = run("restore", str(path), "--database", fresh, "--create")
        assert f"into {fresh}" in output
        connection.close()
        connection.settings_dict["NAME"] = fresh
        restored = search(analyst.tenant.slug)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM retrieval_chunk WHERE embedding IS NOT NULL")
            vectors = cursor.fetchone()[0]
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original
        database_drop(db=db, name=fresh)
    assert restored == expected
    assert vectors >= len(expected)


@pytest.mark.django_db
def test_restore_into_the_live_database_needs_an_explicit_yes(tmp_path):
    archive = tmp_path / "any.dump"
    archive.write_bytes(b"PGDMP")
    with pytest.raises(CommandError, match="--yes"):
        run("restore", str(archive))
    with pytest.raises(CommandError, match="--create needs --database"):
        run("restore", str(archive), "--create", "--yes")


@pytest.mark.django_db
def test_backup_never_overwrites_and_a_bad_archive_fails_cleanly(tmp_path):
    existing = tmp_path / "taken.dump"
    existing.write_bytes(b"keep me")
    with pytest.raises(CommandError, match="already exists"):
        run("backup", "--to", str(existing))
    assert existing.read_bytes() == b"keep me"
    broken = tmp_path / "broken.dump"
    broken.write_bytes(b"not a dump")
    with pytest.raises(CommandError, match="pg_restore exited"):
        run("restore", str(broken), "--database", "finrag_never_created")
    with pytest.raises(CommandError, match="does not exist"):
        run("restore", str(tmp_path / "missing.dump"), "--database", "x")
