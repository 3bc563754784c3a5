"""POST /v1/webhooks/alertmanager: alerts labelled ftwatch_action act once per alert."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from pydantic import SecretStr

from simulator.app import create_app as create_simulator
from simulator.platform import ManualClock, Platform
from simulator.scenario import JobSpec, Scenario
from tests.api.conftest import TOKEN, Api, StartApi, seed_job

PATH = "/v1/webhooks/alertmanager"
JOB = "ftjob-am"


def alert(status: str = "firing", **labels: str) -> dict[str, Any]:
    """One alert as Alertmanager 0.25 sends it (a firing one ends at Go's zero time)."""
    return {
        "status": status,
        "labels": {"alertname": "FtwatchLossHigh", **labels},
        "annotations": {"summary": "train_loss above 10"},
        "startsAt": "2026-12-03T10:00:00.000Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": "0123456789abcdef",
    }


def payload(*alerts: dict[str, Any], group: str = '{}:{alertname="FtwatchLossHigh"}') -> Any:
    return {
        "version": "4",
        "groupKey": group,
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "ftwatch",
        "groupLabels": {"alertname": "FtwatchLossHigh"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


@pytest.fixture
async def served(start_api: StartApi, redis: aioredis.Redis) -> AsyncIterator[tuple[Api, Platform]]:
    """The API on a simulator with one running job ftwatch knows."""
    clock = ManualClock()
    spec = JobSpec(id=JOB, start_after=0, step_period=100, total_steps=50)
    sim = Platform(Scenario(jobs=[spec]), now=clock.now, wall=clock.wall)
    runner = web.AppRunner(create_simulator(sim), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base_url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    try:
        api = await start_api(
            api_token=SecretStr(TOKEN),
            openai_base_url=base_url,
            openai_api_key=SecretStr("sk-test"),
        )
        await seed_job(redis, JOB, step=3)
        yield api, sim
    finally:
        await runner.cleanup()


async def test_a_labelled_alert_pauses_once_however_often_it_is_sent(
    served: tuple[Api, Platform],
) -> None:
    api, sim = served
    body = payload(alert(ftwatch_action="pause", job_id=JOB))
    status, first = await api.post(PATH, json=body, auth=True)
    assert status == 200, first
    assert (first["acted"], first["alerts"][0]["outcome"]) == (1, "ok")
    assert sim.get_job(JOB)["status"] in {"pausing", "paused"}
    # Re-sent, and regrouped under another group key: the same alert, so nothing more.
    regrouped = payload(copy.deepcopy(body["alerts"][0]), group='{}:{job_id="ftjob-am"}')
    for again in (body, regrouped):
        status, reply = await api.post(PATH, json=again, auth=True)
        assert (status, reply["acted"], reply["alerts"][0]["outcome"]) == (200, 0, "already")
    _, audit = await api.get("/v1/actions", params={"job_id": JOB})
    done, fired = audit["data"]  # the alert's firing once, then its pause
    record = fired["firing"]
    assert record["rule"] == "alertmanager:FtwatchLossHigh"
    assert record["actions"][0]["action"] == "pause"
    assert "train_loss above 10" in record["reason"]
    action = done["action"]
    assert (action["firing_id"], action["action"], action["outcome"]) == (
        record["firing_id"],
        "pause",
        "ok",
    )
    assert action["actor"] == "alertmanager:FtwatchLossHigh"


async def test_a_new_start_of_the_alert_is_a_new_action(served: tuple[Api, Platform]) -> None:
    api, _ = served
    first = alert(ftwatch_action="pause", job_id=JOB, provider="openai")
    later = {**first, "startsAt": "2026-12-03T11:00:00.000Z"}
    for sent in (first, first, later):
        status, _ = await api.post(PATH, json=payload(sent), auth=True)
        assert status == 200
    # The repeat is not even attempted; the alert that started again is (and audited).
    _, audit = await api.get("/v1/actions", params={"job_id": JOB})
    ids = [entry["firing"]["firing_id"] for entry in audit["data"] if entry["firing"]]
    assert len(ids) == len(set(ids)) == 2
    assert [e["action"]["firing_id"] for e in audit["data"] if e["action"]] == ids
    assert all(i.startswith("alertmanager:") for i in ids)


async def test_resolved_and_foreign_alerts_are_acknowledged_and_ignored(
    served: tuple[Api, Platform],
) -> None:
    api, sim = served
    body = payload(
        alert("resolved", ftwatch_action="pause", job_id=JOB),
        alert(severity="critical"),
        alert(ftwatch_action="delete", job_id=JOB),
        alert(ftwatch_action="pause", job_id="ftjob-nobody"),
    )
    status, reply = await api.post(PATH, json=body, auth=True)
    assert status == 200, reply
    assert [a["outcome"] for a in reply["alerts"]] == [
        "ignored",
        "ignored",
        "ignored",
        "job_not_found",
    ]
    assert "not one of pause, resume, cancel" in reply["alerts"][2]["detail"]
    assert sim.get_job(JOB)["status"] == "running"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"version": "3", "alerts": []}, "version"),
        (payload({"status": "firing", "startsAt": "2026-12-03T10:00:00Z"}), "alerts[0].labels"),
        (payload({**alert(), "startsAt": ""}), "alerts[0].startsAt"),
        ({"version": "4"}, "alerts"),
    ],
)
async def test_an_unusable_payload_is_refused_naming_the_field(
    served: tuple[Api, Platform], body: Any, field: str
) -> None:
    api, _ = served
    status, reply = await api.post(PATH, json=body, auth=True)
    assert status == 422
    assert field in reply["error"]["message"]


async def test_without_the_token_nothing_happens(served: tuple[Api, Platform]) -> None:
    api, sim = served
    status, reply = await api.post(PATH, json=payload(alert(ftwatch_action="pause", job_id=JOB)))
    assert (status, reply["error"]["code"]) == (401, "unauthorized")
    assert sim.get_job(JOB)["status"] == "running"
