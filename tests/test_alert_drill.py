"""The alert drill, end to end: a real Prometheus scrapes the running app with its token, each
alert's condition is caused for real, the shipped rules fire, and the real Alertmanager, routing
with the shipped config, delivers them to the product's webhook, which stores them and e-mails
the tenant's admins. Ordinary traffic first: of the nine rules only the budget one fires.

The causes: a paid answer takes a tenant past 90% of its budget (TenantBudgetAlmostExhausted,
the reference's UserBudgetAlmost); a transaction holding the chunk table locked, as a reindex
would, makes searches wait 3 s (VectorDBLatency); a provider that keeps its first word back
2.2 s per word (HighQueryLatency for that provider, HighTimeToFirstToken); one answer billed
$120 (DailyCostOverage); the only provider of a tier answering 500 (ErrorRateSpike,
ProviderOutage); the PII detector raising on a text, a recogniser patched to crash, the one
fault injected in-process (PIIDetectionFailure); and idle connections filling 90% of the
server's max_connections (PostgresConnectionPoolExhausted). Warnings are caused and delivered
before any critical alert fires, since the shipped config inhibits warnings during a critical.

Only the timings are shortened (1 s scrapes and evaluations, `for:` durations and group waits of
zero or one second) so the drill ends in well under a minute; rules, routes and receivers are
the shipped ones. Skipped where the Debian packages prometheus or prometheus-alertmanager are
missing (`make system-deps` installs both).
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import yaml
from django.core import mail
from django.db import connection, connections, transaction

from agents.tests.support import ask, glueworks_ingest
from billing.tests.test_budgets import set_budget
from monitoring.health import db_connection_usage
from monitoring.models import AlertNotification
from monitoring.pii import detection as pii_detection
from tests.fakes.llm_server import ok, server_error, slow

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
METRICS_TOKEN = "drill-metrics-token-0123456789"
WEBHOOK_TOKEN = "drill-webhook-token-0123456789"
DEADLINE_SECONDS = 90
ALL_ALERTS = {
    "TenantBudgetAlmostExhausted",
    "VectorDBLatency",
    "HighQueryLatency",
    "HighTimeToFirstToken",
    "DailyCostOverage",
    "ErrorRateSpike",
    "ProviderOutage",
    "PIIDetectionFailure",
    "PostgresConnectionPoolExhausted",
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        PROMETHEUS is None or ALERTMANAGER is None,
        reason="needs Debian's prometheus and prometheus-alertmanager (make system-deps)",
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, *, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up within {timeout} s")


def quick_rules(directory: Path) -> Path:
    """The shipped rules with every `for:` at zero, so a condition fires at its first check."""
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    for group in rules["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            rule["for"] = "0s"
    path = directory / "alerts.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    return path


@pytest.fixture
def alertmanager(tmp_path, live_server) -> Iterator[str]:
    """The shipped Alertmanager config, delivering to this test's server, with 1 s waits."""
    config = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    token = tmp_path / "alert_webhook_token"
    token.write_text(WEBHOOK_TOKEN)
    routes = [config["route"], *config["route"]["routes"]]
    for route in routes:
        route.update(group_wait="1s", group_interval="1s")
    for receiver in config["receivers"]:
        for webhook in receiver["webhook_configs"]:
            path = webhook["url"].split("/api/", 1)[1]
            webhook["url"] = f"{live_server.url}/api/{path}"
            webhook["http_config"]["authorization"]["credentials_file"] = str(token)
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    process = subprocess.Popen(
        [
            str(ALERTMANAGER),
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "alertmanager.log").open("w"),
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/-/ready")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def warm_app(settings, make_member, llm_env) -> None:
    """One question before Prometheus first scrapes, so that loading the embedding model and
    the PII recognisers (seconds, once per process) is not counted as ordinary traffic: a
    process serving for real is warm."""
    settings.LLM_CHAINS = {"free": ["offline"], "pro": ["anthropic"], "enterprise": ["anthropic"]}
    settings.RATE_LIMIT_ENABLED = False
    member = make_member("initech", "analyst")
    glueworks_ingest(member.tenant)
    llm_env.script(ok("Net sales were $32,765 million [1]."), api="anthropic")
    assert ask(member, "What were Glueworks' net sales in fiscal 2018?").status_code == 200


@pytest.fixture
def prometheus(tmp_path, live_server, alertmanager, warm_app) -> Iterator[str]:
    """The shipped scrape config, pointed at this test's server, scraping every second."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    token = tmp_path / "metrics_token"
    token.write_text(METRICS_TOKEN)
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(quick_rules(tmp_path))]
    config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [alertmanager]}]
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "financial-rag-web"]
    job["authorization"]["credentials_file"] = str(token)
    job["static_configs"] = [{"targets": [live_server.url.removeprefix("http://")]}]
    config["scrape_configs"] = [job]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    process = subprocess.Popen(
        [
            str(PROMETHEUS),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("w"),
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/-/ready")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def firing_alerts(prometheus: str) -> set[str]:
    with urllib.request.urlopen(f"http://{prometheus}/api/v1/alerts", timeout=5) as response:
        alerts = json.load(response)["data"]["alerts"]
    return {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}


def wait_for_notifications(wanted: dict[str, dict[str, str]]) -> dict[str, AlertNotification]:
    """Wait until an alert of each name, with the given labels, reached the webhook."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    found: dict[str, AlertNotification] = {}
    while time.monotonic() < deadline:
        for name, labels in wanted.items():
            for notification in AlertNotification.objects.filter(alertname=name):
                if labels.items() <= notification.labels.items():
                    found[name] = notification
        if set(found) == set(wanted):
            return found
        time.sleep(1)
    raise AssertionError(
        f"only {sorted(found)} of {sorted(wanted)} reached the webhook in {DEADLINE_SECONDS} s"
    )


def wait_firing(prometheus: str, names: set[str], *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not names <= firing_alerts(prometheus):
        assert time.monotonic() < deadline, (
            f"{sorted(names - firing_alerts(prometheus))} never fired"
        )
        time.sleep(0.5)


def run_threads(*targets) -> None:
    """Run each target on a thread of its own (its own database connection), and wait."""

    def wrap(target):
        def run() -> None:
            try:
                target()
            finally:
                connections.close_all()

        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)


def chunk_table_locked(seconds: float, locked: threading.Event):
    """A transaction holding retrieval_chunk exclusively for `seconds` (as a reindex would)."""

    def hold() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("LOCK TABLE retrieval_chunk IN ACCESS EXCLUSIVE MODE")
            locked.set()
            time.sleep(seconds)

    return hold


@pytest.mark.django_db(transaction=True)
def test_every_alert_fires_end_to_end_and_ordinary_traffic_fires_only_the_budget(
    settings, make_member, llm_env, prometheus
):
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.ALERT_WEBHOOK_TOKEN = WEBHOOK_TOKEN
    settings.LLM_CHAINS = {"free": ["offline"], "pro": ["anthropic"], "enterprise": ["anthropic"]}
    settings.LLM_MAX_RETRIES = 0
    settings.RATE_LIMIT_ENABLED = False
    settings.ANSWER_CACHE_ENABLED = False

    # --- Ordinary traffic: budget at 90% with one paid answer ($0.90 of a $1 budget) ---------
    globex_owner = make_member("globex", "owner")
    make_member("globex", "analyst")
    set_budget(globex_owner.tenant, "1")
    glueworks_ingest(globex_owner.tenant)
    llm_env.script(ok("Net sales were $32,765 million [1].", input_tokens=300_000), api="anthropic")
    paid = ask(globex_owner, "What were Glueworks' net sales in fiscal 2018?")
    assert paid.status_code == 200, paid.content
    assert Decimal(paid.json()["cost_usd"]) >= Decimal("0.9")
    # Of the nine rules (every `for:` at zero) only the budget fires on it.
    wait_firing(prometheus, {"TenantBudgetAlmostExhausted"}, timeout=30)
    time.sleep(3)  # a few more evaluations of every rule
    assert firing_alerts(prometheus) == {"TenantBudgetAlmostExhausted"}

    acme = make_member("acme", "analyst")
    glueworks_ingest(acme.tenant)

    # --- Warnings -------------------------------------------------------------------------
    # Searches wait 3 s behind a lock on the chunk table.
    locked = threading.Event()
    searches: list[int] = []

    def search(n: int):
        def run() -> None:
            assert locked.wait(10)
            response = acme.client().post(
                "/api/v1/search", {"query": f"Glueworks net sales {n}"}, format="json"
            )
            searches.append(response.status_code)

        return run

    run_threads(chunk_table_locked(3, locked), search(1), search(2), search(3))
    assert searches == [200, 200, 200]
    wait_firing(prometheus, {"VectorDBLatency"})

    # A provider slow to its first word (2.2 s) and to the last (over 5 s): OpenAI for pro.
    # A provider's latency series appears with its first answer, and rate() counts only what
    # comes after a series' first scrape: one quick answer first, as a provider in use has.
    settings.LLM_CHAINS = {**settings.LLM_CHAINS, "pro": ["openai"]}
    llm_env.script(ok("Net sales were $32,765 million [1]."), api="openai")
    assert ask(acme, "What were Glueworks' net sales in fiscal 2018?").status_code == 200
    time.sleep(2)
    llm_env.script(slow("Net sales were high.", delay=2.2), api="openai")
    slow_answer = ask(acme, "What were Glueworks' net sales in fiscal 2018, slowly?")
    assert slow_answer.status_code == 200, slow_answer.content
    settings.LLM_CHAINS = {**settings.LLM_CHAINS, "pro": ["anthropic"]}
    wait_firing(prometheus, {"HighQueryLatency", "HighTimeToFirstToken"})

    # One answer billed $120 (40M input tokens at $3/M) takes the day's spend past $100.
    llm_env.script(
        ok("Net sales were $32,765 million [1].", input_tokens=40_000_000), api="anthropic"
    )
    # (by another tenant: it spends acme's whole budget, and acme's questions must still reach
    # the provider below)
    initech = make_member("initech", "analyst")
    costly = ask(initech, "What were Glueworks' net sales in fiscal 2018, in full?")
    assert costly.status_code == 200, costly.content
    assert Decimal(costly.json()["cost_usd"]) >= Decimal("100")
    wait_firing(prometheus, {"DailyCostOverage"})
    warnings = wait_for_notifications(
        {
            "VectorDBLatency": {"mode": "hybrid"},
            "HighQueryLatency": {"provider": "openai"},
            "HighTimeToFirstToken": {},
            "DailyCostOverage": {},
        }
    )
    for notification in warnings.values():
        assert (notification.receiver, notification.severity) == ("finrag-staff", "warning")

    # --- Critical -------------------------------------------------------------------------
    # An error spike: the only provider of the tier answers 500 to every call.
    llm_env.default = server_error(500)
    failed = [
        ask(acme, f"What were Glueworks' capital expenditures in fiscal 2018 ({n})?").json()
        for n in range(24)
    ]
    assert all(answer["error"]["code"] == "provider_unavailable" for answer in failed), failed[0]
    wait_firing(prometheus, {"ErrorRateSpike", "ProviderOutage"})

    # The PII detector raises on a text: that question is refused, not sent unmasked.
    original = pii_detection._whole_text_findings

    def crashing_recogniser(**kwargs):
        raise RuntimeError("a recogniser crashed")

    pii_detection._whole_text_findings = crashing_recogniser  # type: ignore[assignment]
    client = acme.client()
    client.raise_request_exception = False  # the server answers; the test must not re-raise
    conversation = client.post("/api/v1/conversations", {}, format="json").json()["id"]
    try:
        refused = client.post(
            f"/api/v1/conversations/{conversation}/messages",
            {"question": "What did Glueworks spend on research in fiscal 2018?"},
            format="json",
        )
    finally:
        pii_detection._whole_text_findings = original  # type: ignore[assignment]
    assert refused.status_code >= 400 or refused.json()["error"], refused.content
    wait_firing(prometheus, {"PIIDetectionFailure"})

    # Idle client connections fill more than 90% of max_connections.
    in_use, maximum = db_connection_usage()
    wanted = math.floor(maximum * 0.9) + 2 - in_use
    assert in_use + wanted < maximum - 3, "leave the superuser's reserved connections"
    params = connection.get_connection_params()
    idle = [psycopg.connect(**params) for _ in range(max(0, wanted))]
    try:
        wait_firing(prometheus, {"PostgresConnectionPoolExhausted"})
        # Held until delivered: a condition gone before Alertmanager's first flush never pages.
        pool = wait_for_notifications({"PostgresConnectionPoolExhausted": {}})
    finally:
        for held in idle:
            held.close()

    # The metrics registry is the test process's: gauges other tests left behind may fire for
    # their tenants too, so the budget alert is looked for by globex's label.
    stored = wait_for_notifications(
        {
            "ErrorRateSpike": {},
            "ProviderOutage": {"provider": "anthropic"},
            "PIIDetectionFailure": {},
            "TenantBudgetAlmostExhausted": {"tenant": "globex", "budget": "dollar"},
        }
    )
    stored.update(pool)
    assert set(stored) | set(warnings) == ALL_ALERTS
    for name in ("ErrorRateSpike", "ProviderOutage", "PIIDetectionFailure"):
        assert stored[name].receiver == "finrag-oncall", name
    assert stored["PostgresConnectionPoolExhausted"].receiver == "finrag-oncall"
    budget = stored["TenantBudgetAlmostExhausted"]
    assert (budget.receiver, budget.tenant, budget.severity) == ("finrag-tenants", "globex", "info")
    assert budget.labels["service"] == "financial-rag"  # Prometheus's external label
    # The owner hears of it by e-mail (the analyst does not), besides the product's own 90% mail.
    deadline = time.monotonic() + 10
    subject = "Tenant globex has"
    while not [m for m in mail.outbox if subject in m.subject and "dollar allowance" in m.subject]:
        assert time.monotonic() < deadline, [m.subject for m in mail.outbox]
        time.sleep(0.5)
    # One e-mail per firing episode; on a loaded machine a 1 s scrape can time out, the series
    # go stale and the alert resolves and fires again, which is a second episode.
    mails = [m for m in mail.outbox if subject in m.subject and "dollar allowance" in m.subject]
    episodes = AlertNotification.objects.filter(
        alertname="TenantBudgetAlmostExhausted", tenant="globex", labels__budget="dollar"
    )
    assert 1 <= len(mails) <= episodes.count()
    assert all(m.to == [globex_owner.user.email] for m in mails)
    budget.refresh_from_db()
    assert budget.emailed_at is not None
