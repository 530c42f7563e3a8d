"""Production settings refuse to boot without their secrets and pass `check --deploy` with them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"}
    }
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_its_required_variables():
    result = run_manage("check", env={"DJANGO_SETTINGS_MODULE": "config.settings.production"})
    assert result.returncode != 0
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"):
        assert name in result.stderr


def test_production_passes_check_deploy_with_no_warnings_when_configured():
    from django.conf import settings

    # check --deploy does not connect to the database; any well-formed URL will do.
    url = "postgres://finrag:secret@db.internal:5432/finrag"
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "x" * 20 + "production-secret-for-the-deploy-check-0123456789abcdef",
        "DATABASE_URL": url,
        "REDIS_URL": settings.REDIS_URL,
        "ALLOWED_HOSTS": "rag.example.com",
    }
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_env_example_can_be_copied_to_env_as_it_is():
    """No inline comments (django-environ keeps them in the value) and no empty assignments."""
    for line in (ROOT / ".env.example").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        assert name.isupper(), line
        assert value, f"{name} is set to an empty value; comment it out instead"
        assert "#" not in value, f"{name} carries an inline comment"


class _SmtpSink:
    """A minimal SMTP server on 127.0.0.1 keeping what it receives (one connection at a time)."""

    def __init__(self) -> None:
        import socket
        import threading

        self.messages: list[dict[str, str]] = []
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.server.accept()
        with connection, connection.makefile("rwb") as stream:

            def reply(line: str) -> None:
                stream.write(f"{line}\r\n".encode())
                stream.flush()

            reply("220 sink")
            envelope: dict[str, str] = {"rcpt": ""}
            while raw := stream.readline():
                command = raw.decode().strip()
                verb = command.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    reply("250 sink")
                elif verb == "MAIL":
                    envelope["from"] = command
                    reply("250 ok")
                elif verb == "RCPT":
                    envelope["rcpt"] += command
                    reply("250 ok")
                elif verb == "DATA":
                    reply("354 go on")
                    lines = []
                    while (line := stream.readline().decode()) not in (".\r\n", ""):
                        lines.append(line)
                    envelope["data"] = "".join(lines)
                    self.messages.append(dict(envelope))
                    reply("250 queued")
                elif verb == "QUIT":
                    reply("221 bye")
                    return
                else:
                    reply("250 ok")


def test_production_sends_mail_through_the_configured_smtp_server():
    from django.conf import settings

    sink = _SmtpSink()
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "x" * 20 + "production-secret-for-the-mail-check-0123456789abcdef",
        "DATABASE_URL": "postgres://finrag:secret@db.internal:5432/finrag",
        "REDIS_URL": settings.REDIS_URL,
        "ALLOWED_HOSTS": "rag.example.com",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(sink.port),
        "EMAIL_USE_TLS": "false",
        "DEFAULT_FROM_EMAIL": "FinRAG alerts <alerts@rag.example.com>",
    }
    send = (
        "from django.core.mail import send_mail; "
        "send_mail('Tenant acme has 8% of its dollar allowance left', 'body', None, "
        "['owner@acme.example'])"
    )
    result = run_manage("shell", "-c", send, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    sink.thread.join(timeout=10)
    (message,) = sink.messages
    assert "alerts@rag.example.com" in message["from"]
    assert "owner@acme.example" in message["rcpt"]
    assert "Subject: Tenant acme has 8% of its dollar allowance left" in message["data"]


def test_starttls_and_implicit_tls_together_are_refused():
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.local", "EMAIL_USE_SSL": "true"}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "EMAIL_USE_TLS" in result.stderr


POOL_PROBE = """
from django.db import connection
pids = []
for _ in range(5):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pids.append(cursor.fetchone()[0])
    connection.close()  # what the end of every request does
print(len(set(pids)), connection.settings_dict["CONN_MAX_AGE"])
"""


def test_a_pooled_worker_reuses_its_database_connections_across_requests():
    """With DB_POOL_MAX_SIZE (gunicorn sets it for its workers) a request's closed connection
    goes back to the pool and later requests get one of its backends again; without it each
    request starts a new backend."""
    pooled = run_manage("shell", "-c", POOL_PROBE, env={"DB_POOL_MAX_SIZE": "2"})
    plain = run_manage("shell", "-c", POOL_PROBE, env={"DB_POOL_MAX_SIZE": "0"})

    assert pooled.returncode == 0, pooled.stderr
    assert plain.returncode == 0, plain.stderr
    backends, max_age = (int(x) for x in pooled.stdout.split()[-2:])
    assert 1 <= backends <= 2  # five requests served by the pool's two connections
    assert max_age == 0  # Django's pool refuses persistent connections
    assert plain.stdout.split()[-2:] == ["5", "0"]


GUNICORN_PROBE = """
import os
os.environ.pop("DB_POOL_MAX_SIZE", None)
from config import gunicorn
gunicorn.on_starting(None)
from django.conf import settings
print(os.environ["DB_POOL_MAX_SIZE"], settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"])
"""


def test_gunicorn_turns_the_pool_on_for_the_workers_it_forks(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DB_POOL_MAX_SIZE"}
    env.update(
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings.local"
    )
    result = subprocess.run(
        [sys.executable, "-c", GUNICORN_PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    exported, pool_size = result.stdout.split()[-2:]
    assert int(exported) == int(pool_size) > 0
