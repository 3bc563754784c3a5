"""The example of Prometheus acting on jobs: the rule, its route and the Kubernetes objects."""

from __future__ import annotations

from typing import Any

import yaml
from cloudcoil.models.prometheus_operator import v1 as monitoring
from cloudcoil.models.prometheus_operator import v1alpha1 as monitoring_alpha

from tests.deploy.conftest import DEPLOY, run, tool

RULES = DEPLOY / "prometheus" / "ftwatch-actions.yaml"
RULE_TESTS = DEPLOY / "prometheus" / "ftwatch-actions.test.yaml"
AM_CONFIG = DEPLOY / "alertmanager" / "alertmanager.yaml"
EXAMPLE = DEPLOY / "kubernetes" / "examples" / "pause-on-metric.yaml"
HOOK = "http://ftwatch-api.ftwatch.svc:8080/v1/webhooks/alertmanager"


def example() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(EXAMPLE.read_text())}


def test_the_rule_passes_promtool_and_its_unit_tests() -> None:
    result = run([tool("promtool"), "check", "rules", str(RULES)])
    assert result.returncode == 0, result.stdout + result.stderr
    result = run([tool("promtool"), "test", "rules", str(RULE_TESTS)], cwd=RULE_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_names_an_action_and_the_job() -> None:
    [group] = yaml.safe_load(RULES.read_text())["groups"]
    for rule in group["rules"]:
        assert rule["labels"]["ftwatch_action"] in {"pause", "resume", "cancel"}
        assert "by (provider, job_id)" in rule["expr"]


def test_alertmanager_config_passes_amtool() -> None:
    result = run([tool("amtool"), "check-config", str(AM_CONFIG)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_alerts_route_to_ftwatch_and_others_do_not() -> None:
    def receivers(*labels: str) -> str:
        args = [tool("amtool"), "config", "routes", "test", f"--config.file={AM_CONFIG}"]
        result = run([*args, *labels])
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert receivers("alertname=FtwatchTrainLossDiverging", "ftwatch_action=pause") == (
        "ftwatch-actions,team-default"
    )
    assert receivers("alertname=FtwatchDown") == "team-default"
    [hook] = next(
        r
        for r in yaml.safe_load(AM_CONFIG.read_text())["receivers"]
        if r["name"] == "ftwatch-actions"
    )["webhook_configs"]
    assert hook["url"] == HOOK
    assert hook["http_config"]["authorization"]["type"] == "Bearer"


def test_the_prometheus_rule_is_the_plain_file() -> None:
    assert example()["PrometheusRule"]["spec"] == yaml.safe_load(RULES.read_text())


def test_the_kubernetes_objects_match_their_crd_schemas() -> None:
    docs = example()
    models = {
        "PrometheusRule": monitoring.PrometheusRule,
        "AlertmanagerConfig": monitoring_alpha.AlertmanagerConfig,
    }
    assert set(docs) == set(models)
    for kind, doc in docs.items():
        model = models[kind].model_validate(doc)
        # The models ignore unknown fields: a lossless round trip proves there are none.
        assert model.model_dump(by_alias=True, exclude_unset=True, mode="json") == doc
    [hook] = docs["AlertmanagerConfig"]["spec"]["receivers"][0]["webhookConfigs"]
    assert hook["url"] == HOOK
