"""deploy/prometheus: the alerting rules pass promtool and their unit tests cover each alert."""

from __future__ import annotations

from typing import Any

import yaml

from tests.deploy.conftest import ALERT_TESTS, ALERTS, run, tool

# Issue 6: ftwatch down, upstream errors, dead letters, stream backlog, failing actions.
REQUIRED = {
    "FtwatchDown",
    "FtwatchRoleDown",
    "FtwatchInstanceDown",
    "FtwatchUpstreamErrorsHigh",
    "FtwatchWebhookDeadLettersGrowing",
    "FtwatchStreamBacklogGrowing",
    "FtwatchActionsFailing",
}


def alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_promtool_check_rules() -> None:
    result = run([tool("promtool"), "check", "rules", str(ALERTS)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    result = run([tool("promtool"), "test", "rules", str(ALERT_TESTS)], cwd=ALERT_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_issue_alerts_exist_with_severity_summary_and_description() -> None:
    rules = alerts()
    assert {r["alert"] for r in rules} == REQUIRED
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_every_alert_is_tested_firing_and_silent() -> None:
    fires: set[str] = set()
    silent: set[str] = set()
    for case in yaml.safe_load(ALERT_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check["exp_alerts"] else silent).add(check["alertname"])
    assert fires == REQUIRED, "each alert needs a case where it fires"
    assert silent == REQUIRED, "each alert needs a case where it must not fire"
