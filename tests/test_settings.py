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
