"""The alert drill, end to end: a real Prometheus scrapes the running app with its token, a
failing provider makes questions fail and a paid answer takes a tenant past 90% of its budget,
the shipped rules fire, and the real Alertmanager, routing with the shipped config, delivers
them to the product's webhook, which stores them and e-mails the tenant's admins.

Only the timings are shortened (1 s scrapes and evaluations, `for:` durations and group waits of
zero or one second) so the drill ends in well under a minute; rules, routes and receivers are
the shipped ones. Skipped where the Debian packages prometheus or prometheus-alertmanager are
missing (`make system-deps` installs both).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from django.core import mail

from agents.tests.support import ask, glueworks_ingest
from billing.tests.test_budgets import set_budget
from monitoring.models import AlertNotification
from tests.fakes.llm_server import ok, server_error

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
METRICS_TOKEN = "drill-metrics-token-0123456789"
WEBHOOK_TOKEN = "drill-webhook-token-0123456789"
DEADLINE_SECONDS = 90

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
def prometheus(tmp_path, live_server, alertmanager) -> Iterator[str]:
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


@pytest.mark.django_db(transaction=True)
def test_failing_provider_and_a_spent_budget_reach_the_webhook_and_the_tenant_admins(
    settings, make_member, llm_env, prometheus
):
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.ALERT_WEBHOOK_TOKEN = WEBHOOK_TOKEN
    settings.LLM_CHAINS = {"free": ["offline"], "pro": ["anthropic"], "enterprise": ["anthropic"]}
    settings.LLM_MAX_RETRIES = 0
    settings.RATE_LIMIT_ENABLED = False
    settings.ANSWER_CACHE_ENABLED = False

    # Budget at 90%: one paid answer (300k input tokens at $3/M = $0.90) of a $1 budget.
    globex_owner = make_member("globex", "owner")
    make_member("globex", "analyst")
    set_budget(globex_owner.tenant, "1")
    glueworks_ingest(globex_owner.tenant)
    llm_env.script(ok("Net sales were $32,765 million [1].", input_tokens=300_000), api="anthropic")
    paid = ask(globex_owner, "What were Glueworks' net sales in fiscal 2018?")
    assert paid.status_code == 200, paid.content
    assert Decimal(paid.json()["cost_usd"]) >= Decimal("0.9")
    # Ordinary traffic so far: of the eight rules (every `for:` at zero) only the budget fires.
    deadline = time.monotonic() + 30
    while "TenantBudgetAlmostExhausted" not in firing_alerts(prometheus):
        assert time.monotonic() < deadline, "the budget alert never fired in Prometheus"
        time.sleep(0.5)
    time.sleep(3)  # a few more evaluations of every rule
    assert firing_alerts(prometheus) == {"TenantBudgetAlmostExhausted"}

    # An error spike: the only provider of the tier answers 500 to every call.
    acme = make_member("acme", "analyst")
    glueworks_ingest(acme.tenant)
    llm_env.default = server_error(500)
    failed = [
        ask(acme, f"What were Glueworks' capital expenditures in fiscal 2018 ({n})?").json()
        for n in range(24)
    ]
    assert all(answer["error"] for answer in failed), failed[0]

    # The metrics registry is the test process's: gauges other tests left behind may fire for
    # their tenants too, so the budget alert is looked for by globex's label.
    stored = wait_for_notifications(
        {
            "ErrorRateSpike": {},
            "ProviderOutage": {"provider": "anthropic"},
            "TenantBudgetAlmostExhausted": {"tenant": "globex", "budget": "dollar"},
        }
    )

    assert stored["ErrorRateSpike"].receiver == "finrag-oncall"
    assert stored["ProviderOutage"].receiver == "finrag-oncall"
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
