"""The alerting rules parse (`promtool check rules`) and behave as their unit tests say
(`promtool test rules`): for every alert, series that fire it and series that must not.

promtool is Debian's `prometheus` package, which scripts/system-deps installs; without it these
tests skip and say so.
"""

import shutil
import subprocess

import pytest
import yaml

from services.runtime.local import REPO_ROOT

PROMETHEUS = REPO_ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules.yml"
RULES_TEST = PROMETHEUS / "rules_test.yml"


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip(
            "promtool not found: run scripts/system-deps as root (apt-get install prometheus)"
        )
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120
    )


def alert_names() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [r["alert"] for g in groups for r in g["rules"] if "alert" in r]


def test_rules_pass_promtool_check() -> None:
    done = run("check", "rules", RULES.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_rule_unit_tests_pass() -> None:
    done = run("test", "rules", RULES_TEST.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    cases = yaml.safe_load(RULES_TEST.read_text())["tests"]
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in cases:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = set(alert_names())
    assert names == fired, f"alerts never seen firing: {names - fired}"
    assert names == quiet, f"alerts never checked quiet: {names - quiet}"


def test_the_issue_asks_for_these_alerts() -> None:
    assert {
        "NewswireStageDown",
        "NewswireConsumerLagGrowing",
        "NewswireDeadLetterRateHigh",
        "NewswireWebhookFailureRateHigh",
        "NewswireEndToEndLatencyHigh",
        "NewswireNoArticlesIngested",
    } <= set(alert_names())


def test_every_alert_links_its_runbook_section() -> None:
    runbook = (REPO_ROOT / "docs" / "operations.md").read_text()
    groups = yaml.safe_load(RULES.read_text())["groups"]
    for rule in (r for g in groups for r in g["rules"] if "alert" in r):
        anchor = f"docs/operations.md#{rule['alert'].lower()}"
        assert rule["annotations"]["runbook_url"] == anchor
        assert f"### {rule['alert']}" in runbook, f"no runbook section for {rule['alert']}"
