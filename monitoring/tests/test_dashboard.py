"""Tests of the Grafana provisioning: every panel query is valid PromQL over metrics we export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from monitoring.metrics import exported_metric_names

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "financial-rag.json"
PROMTOOL = shutil.which("promtool")
requires_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (apt-get install -y prometheus provides /usr/bin/promtool)",
)

# Grafana fills these in before the query reaches Prometheus.
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
}

_PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "inf", "nan",
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}  # fmt: skip


def promql_metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (a small lexer, enough for our rule style)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.:])[A-Za-z_:][\w:]*", text):
        word = match.group(0)
        is_call = re.match(r"\s*\(", text[match.end() :]) is not None
        if not is_call and word.lower() not in _PROMQL_WORDS:
            names.add(word)
    return names


def grafana_expr_to_promql(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def _panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def _targets() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in _panels(dashboard)
        for target in panel.get("targets", [])
    ]


def test_promql_lexer_finds_metric_names_and_skips_functions_labels_and_keywords():
    expr = (
        'sum by (le, provider) (rate(rag_a_bucket{le="0.8",x=~"a|b"}[5m])) '
        "/ on (provider) group_left max without (pod) (rag_b) > bool 1e-3 and rag_c offset 5m"
    )
    assert promql_metric_names(expr) == {"rag_a_bucket", "rag_b", "rag_c"}


def test_dashboard_has_a_panel_for_every_question_operations_asks():
    titles = " | ".join(title.lower() for title, _ in _targets())
    for needed in [
        "query volume",
        "p95 query latency",
        "cost",
        "token usage",
        "error rate",
        "cache hit rate",
        "budget remaining",
        "vector search latency",
        "failovers",
        "circuit",
        "postgres connections",
    ]:
        assert needed in titles, needed


def test_every_panel_names_only_metrics_the_service_exports():
    exported = exported_metric_names()
    for title, expr in _targets():
        used = promql_metric_names(grafana_expr_to_promql(expr))
        assert used, f"{title}: no metric found in {expr!r}"
        assert used <= exported, f"{title}: unknown metrics {sorted(used - exported)}"


def test_histogram_panels_take_quantiles_of_bucket_rates_by_le():
    for title, expr in _targets():
        if "histogram_quantile" in expr:
            assert re.search(r"sum by \(le\b[^)]*\) \(rate\(\w+_bucket\[", expr), title


@requires_promtool
def test_every_panel_expression_parses_as_promql(tmp_path):
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:panel_{index}", "expr": grafana_expr_to_promql(expr)}
                    for index, (_, expr) in enumerate(_targets())
                ],
            }
        ]
    }
    rules_file = tmp_path / "dashboard-rules.yml"
    rules_file.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [PROMTOOL, "check", "rules", str(rules_file)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_panels_query_the_provisioned_datasource():
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yaml").read_text())
    (datasource,) = datasources["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in _panels(dashboard):
        assert panel["datasource"] == {"type": "prometheus", "uid": datasource["uid"]}


def test_dashboard_provider_reads_the_folder_compose_mounts():
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/financial-rag.yaml").read_text())
    (provider,) = providers["providers"]
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in mounts
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


def test_dashboard_panels_have_unique_ids_and_do_not_overlap():
    dashboard = json.loads(DASHBOARD.read_text())
    panels = _panels(dashboard)
    assert len({panel["id"] for panel in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        area = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & area, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        cells |= area
