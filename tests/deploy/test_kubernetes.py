"""deploy/kubernetes: every overlay renders, validates strictly and deploys what SPEC §9 says."""

from __future__ import annotations

import base64
import copy
import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from cloudcoil.models.prometheus_operator import v1 as monitoring

from service.redis_target import parse_target
from tests.deploy.conftest import ALERTS, KUSTOMIZE, VENV_BIN, find, kustomize, run

Docs = list[dict[str, Any]]
ROLES = ("api", "poller", "worker")
# The oldest Kubernetes release still in wide use (EKS/GKE extended support) and the newest
# schemas kubernetes-validate ships.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.utils.latest_version())
CRDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): monitoring.ServiceMonitor,
    ("monitoring.coreos.com/v1", "PrometheusRule"): monitoring.PrometheusRule,
}
# The overlays that bring their own Redis generate the Secret and run in a namespace of their own.
GENERATED_SECRETS = ("dev", "ha")
NAMESPACES = {"dev": "ftwatch-dev", "ha": "ftwatch-ha"}
RECOMMENDED = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
)


def pod_templates(docs: Docs) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in {"Deployment", "StatefulSet"}]


def role_deployment(docs: Docs, role: str) -> dict[str, Any]:
    return find(docs, "Deployment", f"ftwatch-{role}")


def container(workload: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def without_role(template: dict[str, Any], role: str) -> dict[str, Any]:
    """The pod template with what may differ per role (label, --role, resources) blanked."""
    blank = copy.deepcopy(template)
    component = "app.kubernetes.io/component"
    assert blank["metadata"]["labels"][component] == role
    blank["metadata"]["labels"][component] = "ROLE"
    for spread in blank["spec"].get("topologySpreadConstraints", []):
        spread["labelSelector"]["matchLabels"][component] = "ROLE"
    blank["spec"]["containers"][0]["args"] = ["run", "--role", "ROLE"]
    blank["spec"]["containers"][0]["resources"] = "tuned per role"
    return blank


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_validates_strictly(overlay: tuple[str, Docs], version: str) -> None:
    _, docs = overlay
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CRDS:
            continue
        kubernetes_validate.validate(doc, version, strict=True)


def test_strict_validation_catches_a_misspelt_field() -> None:
    deployment = find(kustomize(KUSTOMIZE / "base"), "Deployment", "ftwatch-api")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)


def test_base_alone_renders_and_validates() -> None:
    for doc in kustomize(KUSTOMIZE / "base"):
        if (doc["apiVersion"], doc["kind"]) not in CRDS:
            kubernetes_validate.validate(doc, K8S_VERSIONS[-1], strict=True)


def test_prometheus_operator_objects_match_their_crd_schema(overlay: tuple[str, Docs]) -> None:
    _, docs = overlay
    custom = [d for d in docs if (d["apiVersion"], d["kind"]) in CRDS]
    assert sorted(d["kind"] for d in custom) == ["PrometheusRule", "ServiceMonitor"]
    for doc in custom:
        model = CRDS[(doc["apiVersion"], doc["kind"])].model_validate(doc)
        # The models ignore unknown fields: a lossless round trip proves there are none.
        assert model.model_dump(by_alias=True, exclude_unset=True, mode="json") == doc


def test_crd_check_catches_a_misspelt_field() -> None:
    doc = find(kustomize(KUSTOMIZE / "base"), "ServiceMonitor", "ftwatch")
    bad = copy.deepcopy(doc)
    bad["spec"]["endpoints"][0]["intervall"] = "30s"
    model = monitoring.ServiceMonitor.model_validate(bad)
    assert model.model_dump(by_alias=True, exclude_unset=True, mode="json") != bad


def test_each_role_runs_with_probes_resources_and_the_shared_pod_spec(
    overlay: tuple[str, Docs],
) -> None:
    _, docs = overlay
    specs = []
    for role in ROLES:
        deployment = role_deployment(docs, role)
        main = container(deployment)
        assert main["args"] == ["run", "--role", role]
        assert main["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
        assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        for bound in ("requests", "limits"):
            assert set(main["resources"][bound]) == {"cpu", "memory"}
        specs.append(without_role(deployment["spec"]["template"], role))
    assert specs[0] == specs[1] == specs[2], "role Deployments differ beyond their role"


def test_poller_and_worker_scale_horizontally(overlay: tuple[str, Docs]) -> None:
    name, docs = overlay
    for role in ("poller", "worker"):
        deployment = role_deployment(docs, role)
        # Replicas have unique, stable Redis consumer names: the pod's own name.
        env = {e["name"]: e for e in container(deployment).get("env", [])}
        assert env["FTWATCH_REPLICA_NAME"]["valueFrom"] == {
            "fieldRef": {"fieldPath": "metadata.name"}
        }
        if name == "prod":
            assert deployment["spec"]["replicas"] >= 2


def test_every_container_is_locked_down(overlay: tuple[str, Docs]) -> None:
    _, docs = overlay
    for workload in pod_templates(docs):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] >= 10000
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            assert set(c["resources"]["limits"]) == {"cpu", "memory"}


def test_rules_come_from_a_hashed_configmap_mounted_where_ftwatch_rules_points(
    overlay: tuple[str, Docs],
) -> None:
    _, docs = overlay
    rules = find(docs, "ConfigMap", "ftwatch-rules")
    env = find(docs, "ConfigMap", "ftwatch-env")
    assert rules["metadata"]["name"] != "ftwatch-rules"  # hash suffix: rolled out on change
    assert env["data"]["FTWATCH_RULES"] == "/etc/ftwatch/rules.yaml"
    for role in ROLES:
        pod = role_deployment(docs, role)["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["rules"]["configMap"]["name"] == rules["metadata"]["name"]
        mounts = {
            m["name"]: m for m in container({"spec": {"template": {"spec": pod}}})["volumeMounts"]
        }
        assert mounts["rules"] == {"name": "rules", "mountPath": "/etc/ftwatch", "readOnly": True}


def test_editing_the_rules_rolls_every_role_out(tmp_path: Path) -> None:
    tree = tmp_path / "kubernetes"
    shutil.copytree(KUSTOMIZE, tree)
    before = kustomize(tree / "overlays" / "prod")
    rules = tree / "base" / "rules.yaml"
    rules.write_text(rules.read_text().replace("patience: 3", "patience: 4"))
    after = kustomize(tree / "overlays" / "prod")
    for role in ROLES:
        old = role_deployment(before, role)["spec"]["template"]
        new = role_deployment(after, role)["spec"]["template"]
        assert old != new


def test_secrets_reach_the_pods_from_the_secret_and_redis_url_is_required(
    overlay: tuple[str, Docs],
) -> None:
    name, docs = overlay
    secret_name = "ftwatch-secrets"
    if name in GENERATED_SECRETS:  # in prod the operator creates it (deploy/README.md)
        secret = find(docs, "Secret", "ftwatch-secrets")
        secret_name = secret["metadata"]["name"]
    for role in ROLES:
        main = container(role_deployment(docs, role))
        assert {"secretRef": {"name": secret_name}} in main["envFrom"]
        redis = next(e for e in main["env"] if e["name"] == "FTWATCH_REDIS_URL")
        ref = redis["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret_name and ref["key"] == "FTWATCH_REDIS_URL"
        assert not ref.get("optional", False)


def test_services_and_servicemonitor_reach_the_right_pods(overlay: tuple[str, Docs]) -> None:
    _, docs = overlay
    pods = {
        role: role_deployment(docs, role)["spec"]["template"]["metadata"]["labels"]
        for role in ROLES
    }
    api = find(docs, "Service", "ftwatch-api")
    assert [r for r in ROLES if selects(api["spec"]["selector"], pods[r])] == ["api"]
    metrics = find(docs, "Service", "ftwatch-metrics")
    assert [r for r in ROLES if selects(metrics["spec"]["selector"], pods[r])] == list(ROLES)
    assert metrics["spec"]["publishNotReadyAddresses"] is True
    monitor = find(docs, "ServiceMonitor", "ftwatch")
    services = [
        s
        for s in docs
        if s["kind"] == "Service"
        and selects(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])
    ]
    assert [s["metadata"]["name"] for s in services] == ["ftwatch-metrics"]
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
    # The alerts select job="ftwatch": the Service label named by jobLabel gives it.
    assert metrics["metadata"]["labels"][monitor["spec"]["jobLabel"]] == "ftwatch"


def test_each_role_has_a_disruption_budget(overlay: tuple[str, Docs]) -> None:
    _, docs = overlay
    budgets = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    for role in ROLES:
        labels = role_deployment(docs, role)["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets if selects(b["spec"]["selector"]["matchLabels"], labels)]
        assert len(covering) == 1
        assert covering[0]["spec"]["maxUnavailable"] == 1


def test_network_policies_cover_every_pod(overlay: tuple[str, Docs]) -> None:
    _, docs = overlay
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    for workload in pod_templates(docs):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert any(selects(p["spec"]["podSelector"]["matchLabels"], labels) for p in policies)


def test_recommended_labels_everywhere(overlay: tuple[str, Docs]) -> None:
    name, docs = overlay
    for doc in docs:
        if doc["kind"] == "Namespace":
            continue
        labels = doc["metadata"]["labels"]
        assert all(key in labels for key in RECOMMENDED), (doc["kind"], doc["metadata"]["name"])
        assert doc["metadata"]["namespace"] == NAMESPACES.get(name, "ftwatch")
    for workload in pod_templates(docs):
        template = workload["spec"]["template"]["metadata"]["labels"]
        assert "app.kubernetes.io/component" in template
        assert selects(workload["spec"]["selector"]["matchLabels"], template)
        assert "app.kubernetes.io/version" not in workload["spec"]["selector"]["matchLabels"]


def test_dev_overlay_adds_a_persistent_aof_redis_that_ftwatch_uses() -> None:
    docs = kustomize(KUSTOMIZE / "overlays" / "dev")
    redis = find(docs, "StatefulSet", "ftwatch-redis")
    assert redis["spec"]["replicas"] == 1
    args = container(redis)["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--dir") + 1] == "/data"
    mounts = container(redis)["volumeMounts"]
    assert {"name": "data", "mountPath": "/data"} in mounts
    claim = redis["spec"]["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"]
    service = find(docs, "Service", "ftwatch-redis")
    assert redis["spec"]["serviceName"] == service["metadata"]["name"]
    secret = find(docs, "Secret", "ftwatch-secrets")
    url = secret["data"]["FTWATCH_REDIS_URL"]
    assert base64.b64decode(url).decode() == "redis://ftwatch-redis:6379/0"


def test_ha_overlay_runs_redis_with_sentinel_that_ftwatch_finds() -> None:
    docs = kustomize(KUSTOMIZE / "overlays" / "ha")
    redis = find(docs, "StatefulSet", "ftwatch-redis")
    pod = redis["spec"]["template"]["spec"]
    assert redis["spec"]["replicas"] == 3
    assert {c["name"] for c in pod["containers"]} == {"redis", "sentinel"}
    sentinel = next(c for c in pod["containers"] if c["name"] == "sentinel")
    assert "--sentinel" in sentinel["args"]
    service = find(docs, "Service", "ftwatch-redis")
    assert service["spec"]["publishNotReadyAddresses"]
    assert {p["port"] for p in service["spec"]["ports"]} == {6379, 26379}
    secret = find(docs, "Secret", "ftwatch-secrets")
    url = base64.b64decode(secret["data"]["FTWATCH_REDIS_URL"]).decode()
    target = parse_target(url)  # ftwatch's own parser: what it will connect to
    pods = {f"ftwatch-redis-{n}.{service['metadata']['name']}" for n in range(3)}
    assert {host for host, _ in target.hosts} == pods
    assert {port for _, port in target.hosts} == {26379}
    assert target.service == "ftwatch"
    script = find(docs, "ConfigMap", "ftwatch-redis-scripts")["data"]["configure.sh"]
    assert f"sentinel monitor {target.service} " in script
    assert "min-replicas-to-write 1" in script  # an old primary refuses writes at once


def test_prod_overlay_is_picked_up_by_kube_prometheus_stack() -> None:
    docs = kustomize(KUSTOMIZE / "overlays" / "prod")
    for kind in ("ServiceMonitor", "PrometheusRule"):
        assert find(docs, kind, "ftwatch")["metadata"]["labels"]["release"]
    assert not [d for d in docs if d["kind"] == "StatefulSet"]  # Redis is external


def test_prometheusrule_carries_exactly_the_plain_rules_file() -> None:
    rule = yaml.safe_load((KUSTOMIZE / "base" / "prometheusrule.yaml").read_text())
    plain = yaml.safe_load(ALERTS.read_text())
    assert rule["spec"] == plain, "copy deploy/prometheus/ftwatch-alerts.yaml's groups here"


def test_the_shipped_rules_file_passes_ftwatch_rules_check() -> None:
    result = run(
        [str(VENV_BIN / "ftwatch"), "rules", "check", str(KUSTOMIZE / "base" / "rules.yaml")]
    )
    assert result.returncode == 0, result.stdout + result.stderr
