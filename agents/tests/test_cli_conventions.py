"""Command-line conventions: `--json` prints one JSON document on stdout, errors say what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.services import tenant_create
from agents.tests.support import glueworks_ingest
from tests.live_server import database_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_ask_json_output_pipes_into_a_json_parser(analyst):
    glueworks_ingest(analyst.tenant)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "LOG_LEVEL": "INFO",
    }
    ask = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "ask",
            "Glueworks capital expenditures in 2018",
            "--tenant",
            analyst.tenant.slug,
            "--json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=240,
        check=True,
    )
    # `manage.py ask ... --json | python -m json.tool` is what a user types.
    parsed = subprocess.run(
        [sys.executable, "-m", "json.tool"],
        input=ask.stdout,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert parsed.returncode == 0, (ask.stdout[:500], parsed.stderr)
    result = json.loads(ask.stdout)
    assert result["status"] == "complete"
    assert result["citations"][0]["page"] == 2
    # The turn's log lines went to stderr, not into the JSON.
    assert b'"message"' in ask.stderr


def test_ask_in_a_tenant_without_members_says_how_to_add_one(db):
    tenant, _ = tenant_create(slug="empty-firm", tier_slug="pro")
    with pytest.raises(CommandError) as excinfo:
        call_command("ask", "What was revenue?", "--tenant", tenant.slug)
    message = str(excinfo.value)
    assert "no members" in message
    assert "manage.py create_user EMAIL --tenant empty-firm" in message


def test_ask_as_someone_outside_the_tenant_names_them(analyst):
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "ask", "What was revenue?", "--tenant", analyst.tenant.slug, "--user", "x@else.example"
        )
    assert "x@else.example is not a member of tenant 'acme'" in str(excinfo.value)
