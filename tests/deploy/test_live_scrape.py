"""A real Prometheus scrapes ftwatch's three roles through the demo scenario.

Then every dashboard query must return data, every alert expression must evaluate, and
`promtool check metrics` must find nothing in any role's scrape. All on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml
from aiohttp import web
from pydantic import SecretStr

from service.app import create_app
from service.keys import Role
from service.settings import Settings
from simulator.app import create_app as create_simulator
from simulator.presets import default_scenario
from simulator.scenario import Scenario
from tests.deploy.conftest import ALERTS, run, tool
from tests.deploy.test_dashboard import dashboard, panels
from tests.support import RedisServer, eventually, free_port, served
from workers.rules.loading import parse_rules_text

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(180)]

ROLES: tuple[Role, ...] = ("api", "poller", "worker")
SCRAPE = "1s"
# What Grafana would put in the variables for this scrape interval ($__rate_interval is at
# least four scrape intervals) and with "All" selected.
VARIABLES = {"$__rate_interval": "5s", "$job_id": ".*", "$rule": ".*"}
# Seconds the demo jobs wait before they start: ftwatch and Prometheus come up meanwhile.
HOLD_BACK = 4.0
SETTLED = {"succeeded", "failed", "cancelled", "paused"}
# The demo rules (service/demo_rules.yaml) with two webhook receivers: one that accepts and
# one that is gone (410: no retry can help, so its deliveries are dead-lettered at once).
RULES = """
receivers:
  - {name: chat, url: "SINK/ok", format: slack}
  - {name: pager, url: "SINK/gone", format: alertmanager}
rules:
  - name: reward-plateau
    match: {method: reinforcement}
    when: {plateau: {metric: valid_reward_mean, mode: max, patience: 3, min_delta: 0.01}}
    do: [pause, {notify: chat}, {notify: pager}]
  - name: grader-errors
    match: {method: reinforcement}
    when: {error_rate: {threshold: 0.25, window_steps: 3}}
    do: [pause, {resume: {after: 1s, max_times: 1}}, {notify: chat}]
  - name: loss-divergence
    match: {method: [supervised, dpo]}
    when: {threshold: {metric: train_loss, above: 5.0, non_finite: true}}
    do: [cancel, {notify: chat}]
  - name: finished
    when: {status: [succeeded, failed, cancelled]}
    do: [{notify: chat}, {notify: pager}]
"""
# An event no client model accepts (created_at is not a timestamp): ftwatch must count it.
MALFORMED_EVENT = {
    "id": "ftevent-malformed",
    "object": "fine_tuning.job.event",
    "created_at": "yesterday",
    "level": "info",
    "message": "?",
    "type": "message",
}


@dataclass
class Stack:
    """Prometheus scraping the three roles, and when the scrape began."""

    prometheus: str
    roles: dict[str, str]
    sim: str
    http: aiohttp.ClientSession
    started: float

    async def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query; fails the test unless Prometheus accepts the expression."""
        async with self.http.get(f"{self.prometheus}/api/v1/query", params={"query": expr}) as r:
            body = await r.json()
        assert body["status"] == "success", f"{expr}: {body.get('error')}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def query_range(self, expr: str) -> list[dict[str, Any]]:
        """A range query over the whole scenario, one point a second, as a panel draws it."""
        params = {"query": expr, "start": str(self.started), "end": str(time.time()), "step": "1"}
        async with self.http.get(f"{self.prometheus}/api/v1/query_range", params=params) as r:
            body = await r.json()
        assert body["status"] == "success", f"{expr}: {body.get('error')}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def sim_json(self, method: str, path: str, payload: Any = None) -> Any:
        async with self.http.request(method, self.sim + path, json=payload) as resp:
            assert resp.status < 300, await resp.text()
            return await resp.json()


def sink() -> web.Application:
    """Webhook receivers: /ok answers 200, /gone answers 410."""

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def gone(request: web.Request) -> web.Response:
        return web.json_response({"error": "gone"}, status=410)

    app = web.Application()
    app.router.add_post("/ok", ok)
    app.router.add_post("/gone", gone)
    app.router.add_post("/gone/api/v2/alerts", gone)  # where the alertmanager format posts
    return app


@asynccontextmanager
async def prometheus(workdir: Path, roles: dict[str, str]) -> AsyncIterator[str]:
    """Debian's prometheus server on a free loopback port, scraping every role as job ftwatch."""
    port = free_port()
    config = {
        "global": {
            "scrape_interval": SCRAPE,
            "scrape_timeout": SCRAPE,
            "evaluation_interval": SCRAPE,
        },
        "rule_files": [str(ALERTS)],
        "scrape_configs": [
            {
                "job_name": "ftwatch",
                "static_configs": [
                    {
                        "targets": [url.removeprefix("http://")],
                        "labels": {"role": role, "namespace": "live"},
                    }
                    for role, url in roles.items()
                ],
            }
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    proc = await asyncio.create_subprocess_exec(
        tool("prometheus"),
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:

            async def ready() -> bool:
                try:
                    async with http.get(f"{url}/-/ready") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            await eventually(ready, timeout=20, interval=0.1, message="prometheus ready")
        yield url
    finally:
        proc.terminate()
        await proc.wait()


async def play(stack: Stack) -> None:
    """Run the scenario with upstream faults and malformed events until every panel can draw.

    Each milestone is a rate Prometheus itself computes: a labelled counter that appears
    already incremented has no rate until it moves again, and a quantile needs
    observations inside its window.
    """
    await seen(stack, 'count(up{job="ftwatch"} == 1) == 3', "every role scraped")
    await stack.sim_json("PATCH", "/_sim/faults", {"error_rate_5xx": 0.3, "truncate_rate": 0.1})
    await seen(stack, rated('ftwatch_upstream_requests_total{code!~"2.."}'), "upstream errors")
    await stack.sim_json("PATCH", "/_sim/faults", {"error_rate_5xx": 0, "truncate_rate": 0})
    job_id = (await stack.sim_json("GET", "/_sim/jobs"))["data"][0]["id"]
    count = 0

    async def rejected() -> bool:
        nonlocal count
        count += 1
        event = {**MALFORMED_EVENT, "id": f"ftevent-malformed-{count}"}
        await stack.sim_json("POST", f"/_sim/jobs/{job_id}/events", [event])
        return bool(await stack.query(rated("ftwatch_events_rejected_total")))

    await eventually(rejected, timeout=60, interval=0.5, message="Prometheus saw rejections")
    await seen(stack, rated("ftwatch_event_to_action_seconds_count"), "actions taken")

    async def settled() -> bool:
        statuses = {j["status"] for j in (await stack.sim_json("GET", "/_sim/jobs"))["data"]}
        return statuses <= SETTLED

    await eventually(settled, timeout=60, interval=0.2, message="every demo job settled")


def rated(selector: str) -> str:
    return f"sum(rate({selector}[{VARIABLES['$__rate_interval']}])) > 0"


async def seen(stack: Stack, expr: str, what: str) -> None:
    async def probe() -> bool:
        return bool(await stack.query(expr))

    await eventually(probe, timeout=60, interval=0.2, message=f"Prometheus saw {what}")


def scenario() -> Scenario:
    """The demo jobs, held back until Prometheus scrapes: their first actions must show."""
    demo = default_scenario(step_period=0.2)
    jobs = [j.model_copy(update={"start_after": j.start_after + HOLD_BACK}) for j in demo.jobs]
    return demo.model_copy(update={"jobs": jobs})


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    workdir = tmp_path_factory.mktemp("live")
    redis = RedisServer(workdir / "redis")
    redis.workdir.mkdir()
    redis.start()
    try:
        async with AsyncExitStack() as stack:
            sim = await stack.enter_async_context(served(create_simulator(scenario())))
            sink_url = await stack.enter_async_context(served(sink()))
            settings = Settings(
                redis_url=redis.url,
                data_dir=workdir / "data",
                openai_base_url=f"{sim}/v1",
                openai_api_key=SecretStr("sk-test"),
                poll_interval=0.2,
                discovery_interval=0.5,
                rule_tick_interval=0.2,
                claim_idle_seconds=1,
                _env_file=None,
            )
            rules = parse_rules_text(RULES.replace("SINK", sink_url))
            roles: dict[str, str] = {}
            for role in ROLES:
                app = create_app(
                    settings.model_copy(update={"replica_name": f"live-{role}"}),
                    role=role,
                    rules=rules,
                )
                roles[role] = await stack.enter_async_context(served(app))
            started = time.time()
            prom = await stack.enter_async_context(prometheus(workdir, roles))
            http = await stack.enter_async_context(aiohttp.ClientSession())
            live = Stack(prom, roles, sim, http, started)
            await play(live)
            yield live
    finally:
        redis.stop()


def substitute(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


async def test_webhook_deliveries_and_dead_letters_reach_prometheus(stack: Stack) -> None:
    # First in the module: the panel queries below need these deliveries in their range.
    await seen(stack, rated("ftwatch_webhook_delivery_duration_seconds_count"), "deliveries")
    await seen(stack, "ftwatch_webhook_dead_letters > 0", "a dead letter")


QUERIES = [
    pytest.param(t["expr"], id=f"{p['title']}/{t['refId']}") for p in panels() for t in p["targets"]
]


@pytest.mark.parametrize("expr", QUERIES)
async def test_every_panel_query_returns_data(stack: Stack, expr: str) -> None:
    series = await stack.query_range(substitute(expr))
    values = [float(v) for s in series for _, v in s["values"]]
    assert any(math.isfinite(v) for v in values), f"no data for {expr}"


ANNOTATIONS = [
    pytest.param(a["expr"], id=f"annotation/{a['name']}")
    for a in dashboard()["annotations"]["list"]
    if "expr" in a
]


@pytest.mark.parametrize("expr", ANNOTATIONS)
async def test_annotation_queries_mark_the_recorded_firings_and_actions(
    stack: Stack, expr: str
) -> None:
    # The demo paused and cancelled jobs: each annotation query has points to mark.
    series = await stack.query_range(substitute(expr))
    assert any(float(v) > 0 for s in series for _, v in s["values"]), f"no marks from {expr}"
    assert all(s["metric"] for s in series)  # a title label for every mark


@pytest.mark.parametrize("name", ["job_id", "rule"])
async def test_variable_queries_list_values(stack: Stack, name: str) -> None:
    variable = next(v for v in dashboard()["templating"]["list"] if v["name"] == name)
    metric = variable["definition"].removeprefix("label_values(").split(",")[0]
    series = await stack.query(metric)
    assert {s["metric"].get(name) for s in series} - {None}


async def test_every_alert_expression_evaluates(stack: Stack) -> None:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    for rule in (r for g in groups for r in g["rules"]):
        await stack.query(rule["expr"])
    # Prometheus loaded the same file and evaluated every rule without error.
    async with stack.http.get(f"{stack.prometheus}/api/v1/rules") as resp:
        loaded = [r for g in (await resp.json())["data"]["groups"] for r in g["rules"]]
    assert len(loaded) == sum(len(g["rules"]) for g in groups)
    assert {r["health"] for r in loaded} == {"ok"}, [r.get("lastError") for r in loaded]


async def test_down_alerts_stay_quiet_while_every_role_is_up(stack: Stack) -> None:
    # Not even pending: their expressions see the real `up` series and `role` labels.
    assert await stack.query('count by (role) (up{job="ftwatch"} == 1)')
    quiet = await stack.query(
        'ALERTS{alertname=~"FtwatchDown|FtwatchRoleDown|FtwatchInstanceDown"}'
    )
    assert quiet == []


@pytest.mark.parametrize("role", ROLES)
async def test_promtool_check_metrics_on_each_role(stack: Stack, role: str) -> None:
    async with stack.http.get(f"{stack.roles[role]}/metrics") as resp:
        scrape = await resp.text()
    assert "ftwatch_" in scrape
    result = await asyncio.to_thread(run, [tool("promtool"), "check", "metrics"], input=scrape)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr
