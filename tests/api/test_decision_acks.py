"""Acks that arrive again: after a cut-short first one, and after the trainer restarted."""

from __future__ import annotations

import time

import redis.asyncio as aioredis
from pydantic import SecretStr

from service.models.decision import DecisionAck
from service.store.decisions import DecisionStore
from tests.api.conftest import AUTH, TOKEN, StartApi, seed_job

JOB = "trl-run"


async def test_a_repeat_after_a_cut_short_ack_still_pauses_the_job(
    start_api: StartApi, redis: aioredis.Redis
) -> None:
    api = await start_api(api_token=SecretStr(TOKEN))
    await seed_job(redis, JOB, provider="ingest")
    await api.post(f"/v1/jobs/{JOB}/pause", headers=AUTH)
    store = DecisionStore(redis)
    [decision] = await store.pending(f"ingest:{JOB}")
    # The first ack's request died right after storing the ack: the job was not moved.
    await store.ack(f"ingest:{JOB}", decision.id, DecisionAck(outcome="done", at=time.time()))
    path = f"/v1/jobs/{JOB}/decision/{decision.id}/ack"
    status, body = await api.post(path, json={"outcome": "done"}, headers=AUTH)
    assert (status, body["duplicate"], body["status"]) == (200, True, "paused")
    _, audit = await api.get(f"/v1/actions?job_id=ingest:{JOB}")
    ack = audit["data"][0]["action"]  # newest first: the ack, naming the decision's firing
    assert (ack["actor"], ack["outcome"], ack["firing_id"]) == ("trainer", "ok", decision.firing_id)


async def test_a_stale_repeat_does_not_pause_a_restarted_trainer_again(
    start_api: StartApi, redis: aioredis.Redis
) -> None:
    api = await start_api(api_token=SecretStr(TOKEN))
    await seed_job(redis, JOB, provider="ingest")
    await api.post(f"/v1/jobs/{JOB}/pause", headers=AUTH)
    [decision] = await DecisionStore(redis).pending(f"ingest:{JOB}")
    path = f"/v1/jobs/{JOB}/decision/{decision.id}/ack"
    assert (await api.post(path, json={"outcome": "done"}, headers=AUTH))[1]["status"] == "paused"
    restart = {"job_id": JOB, "event_id": "r1", "created_at": 1_800_000_000, "status": "running"}
    await api.post("/v1/ingest/events", json={"events": [restart]}, headers=AUTH)
    status, body = await api.post(path, json={"outcome": "done"}, headers=AUTH)
    assert (status, body["duplicate"], body["status"]) == (200, True, "running")
