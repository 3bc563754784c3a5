"""Decisions end to end on the real app (role all) and redis-server: a plateau in ingested
events becomes a decision the trainer reads (ingest reply, long-poll) and acks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from pydantic import SecretStr

from service import keys
from service.app import create_app
from service.models.firing import Firing
from service.settings import Settings
from service.store import keys as store_keys
from tests.support import eventually, served, xrange
from workers.rules.loading import parse_rules_text

ADMIN = {"Authorization": "Bearer admin-token"}
TRAINER = {"Authorization": "Bearer trainer-token"}
JOB = "keras-run-3"
RULES = parse_rules_text("""
rules:
  - name: loss-plateau
    match: {provider: ingest}
    when: {plateau: {metric: valid_loss, mode: min, patience: 3, min_delta: 0.01}}
    do: [pause, {notify: log}]
""")
LOSSES = [1.0, 0.6, 0.5, 0.5, 0.498, 0.5, 0.501]


@dataclass
class Served:
    url: str
    http: aiohttp.ClientSession
    app: web.Application

    async def call(self, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
        async with self.http.request(method, self.url + path, headers=headers, **kw) as r:
            body = await r.json() if r.content_type == "application/json" else await r.text()
            return r.status, body


@pytest.fixture
async def ftwatch(settings: Settings) -> AsyncIterator[Served]:
    app_settings = settings.model_copy(
        update={
            "api_token": SecretStr("admin-token"),
            "ingest_token": SecretStr("trainer-token"),
            "rule_tick_interval": 0.2,
        }
    )
    app = create_app(app_settings, role="all", rules=RULES)
    async with served(app) as url, aiohttp.ClientSession() as http:
        yield Served(url, http, app)


def events(losses: list[float], *, first: int = 1, status: str | None = None) -> dict[str, Any]:
    return {
        "events": [
            {
                "job_id": JOB,
                "event_id": f"step-{n}",
                "created_at": 1_700_000_000 + n,
                "type": "metrics",
                "metrics": {"step": n, "valid_loss": loss},
                **({"status": status} if status else {}),
            }
            for n, loss in enumerate(losses, start=first)
        ]
    }


async def audit(ftwatch: Served) -> list[dict[str, Any]]:
    status, page = await ftwatch.call("GET", f"/v1/actions?job_id=ingest:{JOB}", ADMIN)
    assert status == 200, page
    return list(reversed(page["data"]))  # oldest first


async def test_a_plateau_is_decided_read_acked_and_pauses_the_job(
    ftwatch: Served, redis: aioredis.Redis
) -> None:
    status, reply = await ftwatch.call("POST", "/v1/ingest/events", TRAINER, json=events(LOSSES))
    assert status == 200, reply
    # The long-poll answers as soon as the rules worker and the executor have decided.
    status, decision = await ftwatch.call("GET", f"/v1/jobs/{JOB}/decision?wait=20", TRAINER)
    assert status == 200, decision
    assert decision["action"] == "pause" and decision["rule"] == "loss-plateau"
    assert (decision["best_value"], decision["best_step"]) == (0.498, 5)
    assert decision["ack"] is None and decision["id"].startswith("dec_")

    # Delivered at least once: the next ingest reply, another poll and the job view carry
    # the same decision (same id) until it is acked.
    status, reply = await ftwatch.call(
        "POST", "/v1/ingest/events", TRAINER, json=events([0.5], first=8)
    )
    assert [d["id"] for d in reply["decisions"]] == [decision["id"]]
    status, again = await ftwatch.call("GET", f"/v1/jobs/{JOB}/decision", TRAINER)
    assert (status, again["id"]) == (200, decision["id"])
    status, job = await ftwatch.call("GET", f"/v1/jobs/ingest:{JOB}", ADMIN)
    assert [d["id"] for d in job["decisions"]] == [decision["id"]]
    assert job["status"] == "running"
    waiting = [e["action"] for e in await audit(ftwatch) if e["record"] == "action"]
    assert [a["outcome"] for a in waiting] == ["queued"]

    ack = {"outcome": "done", "checkpoint": "/ckpt/step-8.keras", "message": "saved, stopped"}
    path = f"/v1/jobs/{JOB}/decision/{decision['id']}/ack"
    status, acked = await ftwatch.call("POST", path, TRAINER, json=ack)
    assert status == 200, acked
    assert (acked["status"], acked["duplicate"]) == ("paused", False)
    assert acked["decision"]["ack"]["checkpoint"] == "/ckpt/step-8.keras"
    # Acted on once: the same ack again (a retry) changes nothing.
    status, repeat = await ftwatch.call("POST", path, TRAINER, json=ack | {"outcome": "failed"})
    assert (status, repeat["duplicate"], repeat["status"]) == (200, True, "paused")
    assert repeat["decision"]["ack"] == acked["decision"]["ack"]

    status, job = await ftwatch.call("GET", f"/v1/jobs/ingest:{JOB}", ADMIN)
    assert (job["status"], job["decisions"]) == ("paused", [])
    status, none = await ftwatch.call("GET", f"/v1/jobs/{JOB}/decision", TRAINER)
    assert (status, none) == (204, "")
    # The firing once; the decision left for the trainer, then its ack, each naming it.
    fired, decided, acked_entry = await audit(ftwatch)
    assert (fired["record"], fired["firing"]["kind"]) == ("firing", "plateau")
    firing_id = fired["firing"]["firing_id"]
    queued, done = decided["action"], acked_entry["action"]
    assert (queued["firing_id"], queued["actor"], queued["outcome"]) == (
        firing_id,
        "ftwatch",
        "queued",
    )
    assert (done["firing_id"], done["actor"], done["outcome"]) == (firing_id, "trainer", "ok")
    assert done["checkpoint"] == "/ckpt/step-8.keras"
    assert "saved, stopped" in done["detail"]


async def test_after_the_ack_the_rules_see_the_pause_and_a_restart_rearms_them(
    ftwatch: Served, redis: aioredis.Redis
) -> None:
    await ftwatch.call("POST", "/v1/ingest/events", TRAINER, json=events(LOSSES))
    status, decision = await ftwatch.call("GET", f"/v1/jobs/{JOB}/decision?wait=20", TRAINER)
    assert status == 200, decision
    path = f"/v1/jobs/{JOB}/decision/{decision['id']}/ack"
    await ftwatch.call("POST", path, TRAINER, json={"outcome": "done"})

    async def rule() -> dict[str, Any]:
        _, job = await ftwatch.call("GET", f"/v1/jobs/ingest:{JOB}", ADMIN)
        return dict(job["rules"]["loss-plateau"])

    await eventually(lambda: _is(rule(), last_status="paused"), message="the rules saw the pause")
    assert (await rule())["armed"] is False
    # The trainer restarted from its checkpoint: running again, the rule re-armed.
    restart = events([0.49], first=9, status="running")
    await ftwatch.call("POST", "/v1/ingest/events", TRAINER, json=restart)
    state = await eventually(lambda: _is(rule(), armed=True), message="re-armed on resume")
    assert state is not None and state["episode"] == 2 and state["last_status"] == "running"

    async def resolved() -> list[Firing]:
        rows = await xrange(redis, store_keys.DELIVERIES_STREAM)
        notices = [Firing.model_validate_json(fields["f"]) for _, fields in rows]
        return [n for n in notices if n.resolved]

    [notice] = await eventually(resolved, message="the open incident is resolved")
    assert notice.reason == "resolved: job resumed" and notice.firing_id == decision["firing_id"]


async def _is(found: Any, **wanted: Any) -> dict[str, Any] | None:
    state: dict[str, Any] = await found
    return state if all(state.get(k) == v for k, v in wanted.items()) else None


async def test_a_long_poll_returns_when_a_decision_appears(ftwatch: Served) -> None:
    await ftwatch.call("POST", "/v1/ingest/events", TRAINER, json=events([1.0]))
    poll = asyncio.create_task(ftwatch.call("GET", f"/v1/jobs/{JOB}/decision?wait=60", TRAINER))
    signals = ftwatch.app[keys.DECISIONS].signals
    await eventually(lambda: _now(signals.waiting(f"ingest:{JOB}")), message="poll waits")
    status, manual = await ftwatch.call("POST", f"/v1/jobs/ingest:{JOB}/cancel", ADMIN)
    assert manual["result"]["outcome"] == "queued", manual
    # Far inside its 60 s wait: the decision woke it.
    status, decision = await asyncio.wait_for(poll, timeout=10)
    assert (status, decision["action"], decision["rule"]) == (200, "cancel", "api")


async def _now(value: int) -> int:
    return value


async def test_a_long_poll_without_a_decision_ends_empty_after_wait(ftwatch: Served) -> None:
    await ftwatch.call("POST", "/v1/ingest/events", TRAINER, json=events([1.0]))
    started = time.monotonic()
    status, body = await ftwatch.call("GET", f"/v1/jobs/{JOB}/decision?wait=0.3", TRAINER)
    assert (status, body) == (204, "")
    assert time.monotonic() - started >= 0.3


async def test_acks_of_unknown_decisions_and_jobs_are_404(ftwatch: Served) -> None:
    await ftwatch.call("POST", "/v1/ingest/events", TRAINER, json=events([1.0]))
    ack = {"outcome": "done"}
    status, body = await ftwatch.call(
        "POST", f"/v1/jobs/{JOB}/decision/dec_nope/ack", TRAINER, json=ack
    )
    assert (status, body["error"]["code"]) == (404, "decision_not_found")
    assert "dec_nope" in body["error"]["message"]
    status, body = await ftwatch.call("GET", "/v1/jobs/never-pushed/decision", TRAINER)
    assert (status, body["error"]["code"]) == (404, "job_not_found")
    status, body = await ftwatch.call(
        "POST", f"/v1/jobs/{JOB}/decision/dec_x/ack", TRAINER, json={"outcome": "paused"}
    )
    assert status == 422 and body["error"]["details"][0]["loc"] == "outcome"


async def test_a_failed_ack_is_recorded_and_notified_and_leaves_the_job_running(
    ftwatch: Served, redis: aioredis.Redis
) -> None:
    await ftwatch.call("POST", "/v1/ingest/events", TRAINER, json=events(LOSSES))
    status, decision = await ftwatch.call("GET", f"/v1/jobs/{JOB}/decision?wait=20", TRAINER)
    assert status == 200, decision
    ack = {"outcome": "failed", "message": "disk full: no checkpoint"}
    path = f"/v1/jobs/{JOB}/decision/{decision['id']}/ack"
    status, acked = await ftwatch.call("POST", path, TRAINER, json=ack)
    assert (status, acked["status"]) == (200, "running")

    async def failures() -> list[Firing]:
        rows = await xrange(redis, store_keys.DELIVERIES_STREAM)
        notices = [Firing.model_validate_json(fields["f"]) for _, fields in rows]
        return [n for n in notices if n.type == "ftwatch.action.failed"]

    [notice] = await eventually(failures, message="the failed ack was notified")
    assert notice.kind == "ack" and "disk full" in notice.actions[0].detail
    last = (await audit(ftwatch))[-1]["action"]
    assert (last["actor"], last["outcome"]) == ("trainer", "failed")
