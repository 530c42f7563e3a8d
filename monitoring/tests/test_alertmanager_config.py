"""The shipped Alertmanager configs pass amtool, route by severity and tenant, hold warnings back
while a critical alert fires, and deliver to the product's webhook with its bearer token."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.urls import reverse

from monitoring.tests.test_alert_rules import _rules

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CONFIGS = [
    DEPLOY / "alertmanager" / "alertmanager.yml",
    DEPLOY / "alertmanager" / "receivers-example.yml",
    DEPLOY / "k8s" / "alertmanager" / "alertmanager.yml",
]
AMTOOL = shutil.which("amtool")
requires_amtool = pytest.mark.skipif(
    AMTOOL is None,
    reason="amtool is not installed (apt-get install -y prometheus-alertmanager provides it)",
)


def _amtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert AMTOOL is not None
    return subprocess.run([AMTOOL, *args], capture_output=True, text=True, check=False, timeout=60)


def _receiver(config: Path, *labels: str) -> str:
    result = _amtool("config", "routes", "test", f"--config.file={config}", *labels)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@requires_amtool
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_amtool_accepts_the_config(config):
    result = _amtool("check-config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@requires_amtool
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_alerts_are_routed_by_severity_and_tenant_alerts_to_the_tenants_receiver(config):
    assert _receiver(config, "alertname=ErrorRateSpike", "severity=critical") == "finrag-oncall"
    assert _receiver(config, "alertname=HighQueryLatency", "severity=warning") == "finrag-staff"
    budget = ("alertname=TenantBudgetAlmostExhausted", "severity=info", "tenant=acme")
    assert _receiver(config, *budget) == "finrag-tenants"


def test_every_severity_the_rules_use_has_a_route():
    severities = {rule["labels"]["severity"] for rule in _rules()}
    config = yaml.safe_load(CONFIGS[0].read_text())
    routed = " ".join(m for route in config["route"]["routes"] for m in route["matchers"])
    for severity in severities:
        assert severity in routed, severity


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_a_critical_alert_holds_back_warnings_of_the_same_deployment(config):
    (rule,) = yaml.safe_load(config.read_text())["inhibit_rules"]
    assert rule["source_matchers"] == ['severity="critical"']
    assert rule["target_matchers"] == ['severity="warning"']
    # Prometheus adds its external label service=financial-rag to every alert it sends.
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert set(rule["equal"]) <= set(prometheus["global"]["external_labels"])


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_receiver_delivers_to_the_product_webhook_with_a_token_file(config):
    document = yaml.safe_load(config.read_text())
    path = reverse("alertmanager-webhook")
    for receiver in document["receivers"]:
        (webhook,) = receiver["webhook_configs"]
        assert webhook["url"].endswith(path), receiver["name"]
        assert webhook["send_resolved"] is True
        authorization = webhook["http_config"]["authorization"]
        assert authorization["type"] == "Bearer"
        assert authorization["credentials_file"].startswith(("/run/secrets/", "/etc/"))


def test_the_k8s_and_compose_configs_route_and_inhibit_alike():
    compose, k8s = (yaml.safe_load(p.read_text()) for p in (CONFIGS[0], CONFIGS[2]))
    assert compose["route"] == k8s["route"]
    assert compose["inhibit_rules"] == k8s["inhibit_rules"]
    assert [r["name"] for r in compose["receivers"]] == [r["name"] for r in k8s["receivers"]]


def test_the_example_names_slack_and_pagerduty_receivers_with_secrets_in_files():
    example = yaml.safe_load(CONFIGS[1].read_text())
    receivers = {r["name"]: r for r in example["receivers"]}
    (pagerduty,) = receivers["finrag-oncall"]["pagerduty_configs"]
    assert "routing_key" not in pagerduty
    assert pagerduty["routing_key_file"].startswith("/run/secrets/")
    (slack,) = receivers["finrag-staff"]["slack_configs"]
    assert "api_url" not in slack
    assert slack["api_url_file"].startswith("/run/secrets/")
