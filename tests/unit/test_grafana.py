"""The Grafana dashboard and its provisioning: structure, PromQL that parses, the issue's
panels present, and compose wiring that points at these files. Metric names are checked
against a real /metrics scrape in test_metrics_lint.py."""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ops_metrics import DASHBOARD, DEPLOY, dashboard_expressions, names_in_promql

GRAFANA = DEPLOY / "grafana"


def load_dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())  # type: ignore[no-any-return]


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def as_promql(expr: str) -> str:
    """Grafana's variables replaced by values Prometheus would receive."""
    return expr.replace("$__rate_interval", "5m").replace("$service", ".+")


def test_dashboard_structure() -> None:
    dashboard = load_dashboard()
    assert dashboard["uid"] == "newswire-overview"
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "service"} <= variables
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], f"{panel['title']} has no query"
        assert {t["refId"] for t in panel["targets"]} == {
            chr(65 + i) for i in range(len(panel["targets"]))
        }


def test_dashboard_shows_what_the_issue_asks_for() -> None:
    used = set().union(*(names_in_promql(e) for _, e in dashboard_expressions()))
    assert {
        "newswire_records_consumed_total",  # flow per stage, by outcome
        "newswire_records_produced_total",
        "newswire_consumer_lag_records",  # lag
        "newswire_processing_seconds_bucket",  # latency p50/p99
        "newswire_end_to_end_latency_seconds_bucket",
        "newswire_dead_letters_total",  # DLQ rate
        "newswire_records_dropped_total",  # duplicates dropped
        "newswire_webhook_deliveries_total",  # delivery health
        "newswire_webhook_attempts_total",
    } <= used
    quantiles = {
        float(q)
        for _, e in dashboard_expressions()
        for q in re.findall(r"histogram_quantile\(([0-9.]+),.*?newswire_processing_seconds", e)
    }
    assert quantiles == {0.5, 0.99}


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    """Each panel query becomes a recording rule that promtool parses."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip(
            "promtool not found: run scripts/system-deps as root (apt-get install prometheus)"
        )
    exprs = [as_promql(e) for where, e in dashboard_expressions() if not where.startswith("var")]
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"dashboard:q{i}", "expr": e} for i, e in enumerate(exprs)],
            }
        ]
    }
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    done = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in done.stdout


def test_provisioning_points_at_the_dashboard_and_prometheus() -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    [source] = datasources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/newswire.yml").read_text())
    [provider] = providers["providers"]
    dashboards_dir = provider["options"]["path"]

    grafana = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["grafana"]
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in grafana["volumes"])
    assert mounts["./grafana/dashboards"] == dashboards_dir
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    assert (DEPLOY / "grafana" / "dashboards" / DASHBOARD.name).is_file()
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{dashboards_dir}/{DASHBOARD.name}"
