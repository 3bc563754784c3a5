"""deploy/grafana: the dashboard provisions as is and queries only ftwatch's own metrics."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from service.metrics import Metrics
from tests.deploy.conftest import ALERTS, DASHBOARD, DEPLOY

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# SPEC §8, the contract for dashboards.
SPEC_METRICS = {
    "ftwatch_events_ingested_total",
    "ftwatch_job_metric",
    "ftwatch_job_step",
    "ftwatch_jobs_watched",
    "ftwatch_rule_firings_total",
    "ftwatch_actions_total",
    "ftwatch_webhook_deliveries_total",
    "ftwatch_upstream_requests_total",
    "ftwatch_upstream_request_duration_seconds",
    "ftwatch_event_to_action_seconds",
    "ftwatch_stream_pending",
    "ftwatch_job_series_dropped_total",
}
KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
}
RANGE_FUNCTIONS = ("rate", "irate", "increase")


def exported_names() -> set[str]:
    """Every series name the service exports: service/metrics.py, suffixes included."""
    names: set[str] = set()
    for family in Metrics().registry.collect():
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names |= {family.name + s for s in ("_bucket", "_sum", "_count")}
        else:
            names.add(family.name)
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (strings, matchers and ranges removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"(?<![A-Za-z0-9_:])[0-9][0-9A-Za-z.]*", " ", text)  # numbers, durations
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end() :].lstrip()[:1]
        if match.group() not in KEYWORDS and following != "(":
            names.add(match.group())
    return names


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def exprs() -> list[str]:
    return [t["expr"] for p in panels() for t in p["targets"]]


def test_the_metric_parser_sees_selectors_only() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (receiver, le) (rate(foo_bucket{a=~"x|y"}'
        "[$__rate_interval]))) / on(job_id) bar > 0 and baz offset 5m"
    )
    assert metric_names(expr) == {"foo_bucket", "bar", "baz"}


def test_spec_metrics_are_all_exported() -> None:
    exported = exported_names()
    for name in SPEC_METRICS:
        assert name in exported or f"{name}_bucket" in exported, name


def test_datasource_is_a_variable_used_by_every_panel_and_query() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert "__inputs" not in dashboard()  # resolved only by the UI import wizard
    for panel in panels():
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]


@pytest.mark.parametrize(
    ("name", "metric"), [("job_id", "ftwatch_job_step"), ("rule", "ftwatch_rule_firings_total")]
)
def test_job_id_and_rule_variables(name: str, metric: str) -> None:
    variable = next(v for v in dashboard()["templating"]["list"] if v["name"] == name)
    assert variable["type"] == "query" and variable["datasource"] == DATASOURCE
    assert variable["definition"] == f"label_values({metric}, {name})"
    assert variable["multi"] and variable["includeAll"]
    assert any(f'{name}=~"${name}"' in e for e in exprs())


def test_every_panel_has_a_unit_and_a_description() -> None:
    for panel in panels():
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
        assert len(panel["description"]) > 30, panel["title"]


def test_rates_use_rate_interval() -> None:
    for expr in exprs():
        for fn in RANGE_FUNCTIONS:
            for window in re.findall(rf"\b{fn}\([^()]*?\[([^\]]+)\]\)", expr):
                assert window == "$__rate_interval", expr
    assert any("rate(" in e for e in exprs())


def test_panels_query_only_spec_metrics() -> None:
    allowed = exported_names()
    for expr in exprs():
        names = metric_names(expr)
        assert names, expr
        assert names <= allowed, f"{expr}: {names - allowed}"


def test_alerts_query_only_spec_metrics_and_up() -> None:
    allowed = exported_names() | {"up"}
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        for rule in group["rules"]:
            assert metric_names(rule["expr"]) <= allowed, rule["expr"]


def test_the_issue_topics_each_have_a_panel() -> None:
    queried = " ".join(exprs())
    for topic in (
        "reward",
        "loss",
        "error_mean",
        "ftwatch_job_step",
        "total_steps",
        "ftwatch_rule_firings_total",
        "ftwatch_actions_total",
        "ftwatch_webhook_deliveries_total",
        "ftwatch_webhook_dead_letters",
        "ftwatch_upstream_requests_total",
        'code!~"2.."',
        "ftwatch_upstream_request_duration_seconds_bucket",
        "ftwatch_stream_pending",
    ):
        assert topic in queried, topic


def test_panels_do_not_overlap_and_fit_the_grid() -> None:
    taken: set[tuple[int, int]] = set()
    for panel in dashboard()["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        cells = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & taken, panel["title"]
        taken |= cells


def test_provisioning_file_points_at_the_dashboard() -> None:
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning.yaml").read_text())
    assert provider["apiVersion"] == 1
    assert provider["providers"][0]["type"] == "file"
    assert dashboard()["uid"] == "ftwatch-overview"


def annotation_queries() -> list[dict[str, Any]]:
    """The dashboard's Prometheus annotations (the built-in one is Grafana's own)."""
    return [a for a in dashboard()["annotations"]["list"] if a.get("datasource") == DATASOURCE]


def job_panel_ids() -> set[int]:
    """The panels under the "Training curves" row that draw over time."""
    ids: set[int] = set()
    in_row = False
    for panel in dashboard()["panels"]:
        if panel["type"] == "row":
            in_row = panel["title"] == "Training curves"
        elif in_row and panel["type"] == "timeseries":
            ids.add(panel["id"])
    return ids


def test_firings_and_actions_are_annotated_on_the_job_panels() -> None:
    queries = {a["name"]: a for a in annotation_queries()}
    assert set(queries) == {"Rule firings", "Actions"}
    assert "ftwatch_rule_firings_total" in queries["Rule firings"]["expr"]
    assert "ftwatch_actions_total" in queries["Actions"]["expr"]
    allowed = exported_names()
    for annotation in queries.values():
        assert annotation["enable"] and not annotation["hide"]
        assert metric_names(annotation["expr"]) <= allowed, annotation["expr"]
        assert "[$__rate_interval]" in annotation["expr"]
        assert annotation["filter"] == {"exclude": False, "ids": sorted(job_panel_ids())}
        # Each label the title names is one the query keeps.
        for label in re.findall(r"\{\{(\w+)\}\}", annotation["titleFormat"]):
            assert f"by ({label}" in annotation["expr"] or f", {label})" in annotation["expr"]
