"""Command-line conventions: `--json` prints one JSON document on stdout, errors say what to do."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
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


def _run(arguments: list[str], *, terminal: bool) -> tuple[bytes, str]:
    """Run manage.py with stderr on a pseudo-terminal or a pipe: (stdout, stderr text)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "TERM": "xterm",
    }
    command = [sys.executable, "manage.py", *arguments]
    if not terminal:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, timeout=240, check=True
        )
        return done.stdout, done.stderr.decode(errors="replace")
    controller, follower = pty.openpty()
    # A terminal has a size; a bare pseudo-terminal has 0 columns, where progress bars draw nothing.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=follower
    ) as process:
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the pseudo-terminal closes when the command exits
                break
            if not chunk:
                break
            seen += chunk
        stdout = process.stdout.read() if process.stdout else b""
        assert process.wait(timeout=240) == 0, seen[-2000:]
    os.close(controller)
    return stdout, seen.decode(errors="replace")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("command", "shown"),
    [
        pytest.param(["search", "Glueworks capital expenditures"], "Searching", id="search"),
        pytest.param(["ask", "Glueworks capital expenditures in 2018"], "Searching", id="ask"),
        pytest.param(["ingest", "FILE"], "Ingesting", id="ingest"),
    ],
)
def test_progress_shows_on_a_terminal_and_stays_out_of_a_pipe(analyst, tmp_path, command, shown):
    glueworks_ingest(analyst.tenant)
    upload = tmp_path / "notes.txt"
    upload.write_text("Glueworks opened a plant in Ohio in fiscal 2018.\n")
    arguments = [str(upload) if a == "FILE" else a for a in command]
    arguments += ["--tenant", analyst.tenant.slug]

    _, on_terminal = _run(arguments, terminal=True)
    piped_out, piped_err = _run(arguments, terminal=False)

    assert shown in on_terminal
    assert shown not in piped_err
    assert shown.encode() not in piped_out
