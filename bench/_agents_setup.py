"""The agents benchmarks' world: a pro tenant with the demo corpus, and a real daphne server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._django import django_setup

SCRATCH_DATABASE = "finrag_bench_agents"
SETTINGS_MODULE = "bench._agents_settings"
# Quotas far above what a benchmark uses, so rate limits, stream slots and budgets (when the
# billing hooks are installed) are checked on every turn but never refuse one.
GENEROUS_QUOTAS = {
    "requests_per_minute_user_override": 1_000_000,
    "requests_per_minute_tenant_override": 1_000_000,
    "concurrent_streams_user_override": 10_000,
    "monthly_budget_usd_override": 1_000_000,
    "monthly_token_allowance_override": 10_000_000_000,
}
REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_MANIFEST = REPO_ROOT / "retrieval" / "demo_corpus" / "manifest.json"
FAKE_API_KEY = "sk-ant-bench-not-a-real-key"

# The demo corpus README's example questions (each answered on a known page), all standalone:
# one that agents.engines.condense takes for a follow-up ("its common stock") would add a
# condensing call, which the fake server answers with the scripted answer, so it is reworded.
QUESTIONS = (
    "What was 3M's capital expenditure in FY2018?",
    "What were Apple's total net sales in fiscal 2018?",
    "How much revenue did Microsoft's Intelligent Cloud segment earn in fiscal 2019?",
    "What was NVIDIA's diluted EPS for fiscal 2020?",
    "How much did Apple spend repurchasing Apple common stock in fiscal 2020?",
    "What was 3M's operating income in 2019?",
    "What did Microsoft spend on research and development in fiscal 2020?",
    "What was NVIDIA's Datacenter revenue in fiscal 2019?",
    "What were Apple's Services net sales in fiscal 2019?",
    "What was 3M's dividend payout ratio in FY2018?",
)


@dataclass(frozen=True)
class BenchWorld:
    """The tenant, member and API key every benchmark turn runs as."""

    tenant: Any
    user: Any
    membership: Any
    raw_key: str
    documents_ready: int
    chunks: int


def bench_django_setup() -> str:
    """Django on a fresh scratch database, with DEBUG off so no query log grows during a run."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    os.environ.setdefault("DEBUG", "false")
    return django_setup(scratch_database=SCRATCH_DATABASE)


def world_create() -> BenchWorld:
    """A pro-tier tenant, an analyst with an API key, and the demo corpus ingested."""
    from accounts.services import api_key_issue, tenant_create, user_create_in_tenant
    from retrieval.models import Chunk
    from retrieval.services import corpus_load_manifest

    tenant, _ = tenant_create(slug="bench", name="Bench Capital", tier_slug="pro")
    for name, value in GENEROUS_QUOTAS.items():
        setattr(tenant, name, value)
    tenant.save(update_fields=list(GENEROUS_QUOTAS))
    user, membership, _ = user_create_in_tenant(
        tenant=tenant, email="analyst@bench.example", role="analyst"
    )
    issued = api_key_issue(tenant=tenant, user=user, name="bench")
    outcomes = corpus_load_manifest(tenant=tenant, manifest=DEMO_MANIFEST)
    ready = sum(1 for outcome in outcomes if outcome.status == "ready")
    if ready != len(outcomes):
        raise RuntimeError(f"only {ready}/{len(outcomes)} demo documents were ingested")
    return BenchWorld(
        tenant=tenant,
        user=user,
        membership=membership,
        raw_key=issued.raw_key,
        documents_ready=ready,
        chunks=Chunk.objects.filter(tenant=tenant).count(),
    )


def conversations_create(world: BenchWorld, count: int, *, title: str) -> list[int]:
    """`count` empty conversations of the world's analyst."""
    from agents.models import Conversation

    created = Conversation.objects.bulk_create(
        [
            Conversation(tenant=world.tenant, user=world.user, title=f"{title} {n}")
            for n in range(count)
        ]
    )
    return [conversation.pk for conversation in created]


def question_for(index: int) -> str:
    """A demo question made unique by a short tag, so no turn is served by the answer cache."""
    tag = ""
    n = index
    while True:
        n, digit = divmod(n, 26)
        tag = chr(ord("a") + digit) + tag
        if n == 0:
            break
    return f"{QUESTIONS[index % len(QUESTIONS)]} (ref {tag})"


def provider_environ(base_url: str) -> dict[str, str]:
    """The SDK variables that route the pro chain's first provider to the fake server."""
    return {"ANTHROPIC_API_KEY": FAKE_API_KEY, "ANTHROPIC_BASE_URL": base_url}


def provider_environ_apply(base_url: str) -> None:
    os.environ.update(provider_environ(base_url))
    # Only Anthropic answers, so a failure shows up as an error rather than a quiet failover.
    os.environ.pop("OPENAI_API_KEY", None)
    os.environ.pop("OPENAI_BASE_URL", None)


def database_url() -> str:
    """A DATABASE_URL for a child process that reaches the database this process uses."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    options = database.get("OPTIONS") or {}
    host = database.get("HOST") or options.get("host") or ""
    port = database.get("PORT") or options.get("port") or "5432"
    user = database.get("USER") or ""
    password = database.get("PASSWORD") or ""
    credentials = f"{user}:{password}@" if password else f"{user}@"
    if str(host).startswith("/"):
        # A socket directory goes in the query string (django-environ puts it in OPTIONS).
        return f"postgres://{credentials}/{database['NAME']}?host={host}&port={port}"
    return f"postgres://{credentials}{host}:{port}/{database['NAME']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _daphne_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "config.asgi:application",
    ]


class DaphneServer:
    """The product's ASGI app under daphne, in a child process on a free loopback port."""

    def __init__(self, *, environ: dict[str, str], log_path: Path, startup_timeout: float = 90.0):
        self.port = free_port()
        self.environ = environ
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.startup_s = 0.0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, conversation_id: int) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/conversations/{conversation_id}/"

    def __enter__(self) -> DaphneServer:
        env = {key: value for key, value in os.environ.items() if not key.startswith("OPENAI_")}
        env.update(self.environ)
        env["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
        env["DATABASE_URL"] = database_url()
        env.setdefault("DEBUG", "false")
        env["PYTHONUNBUFFERED"] = "1"
        self._log = self.log_path.open("wb")
        started = time.perf_counter()
        self._process = subprocess.Popen(
            _daphne_command(self.port),
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = started + self.startup_timeout
        while time.perf_counter() < deadline:
            if self._process.poll() is not None:
                self.__exit__()
                raise RuntimeError(f"daphne exited at start; see {self.log_path}")
            try:
                # An http:// URL on loopback that we built ourselves.
                health = f"{self.origin}/health"
                with urllib.request.urlopen(health, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        self.startup_s = time.perf_counter() - started
                        return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"daphne did not answer /health within {self.startup_timeout:.0f} s")

    def __exit__(self, *exc_info: object) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
        if self._log is not None:
            self._log.close()
            self._log = None
