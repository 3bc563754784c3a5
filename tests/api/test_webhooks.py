"""POST /v1/webhooks/openai: Standard Webhooks signature, then an immediate poll of the job."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from service.app import create_app
from service.settings import Settings
from service.store import keys
from service.store.schedule import Schedule
from service.store.scripts import Scripts
from tests.api.conftest import WEBHOOK_SECRET, Api, StartApi, seed_job
from workers.notify.signing import sign

LATER_MS = 10**13  # a due time far in the future: only a nudge makes the job due now


def completion(job_id: str, kind: str = "succeeded") -> bytes:
    event = {
        "object": "event",
        "id": "evt_1",
        "type": f"fine_tuning.job.{kind}",
        "created_at": int(time.time()),
        "data": {"id": job_id},
    }
    return json.dumps(event).encode()


def signed(body: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> dict[str, Any]:
    headers = sign(secret, "msg_1", at if at is not None else int(time.time()), body)
    return {"data": body, "headers": headers | {"Content-Type": "application/json"}}


async def due_ms(redis: aioredis.Redis, job_id: str, provider: str = "openai") -> float | None:
    return await redis.zscore(keys.SCHEDULE, f"{provider}:{job_id}")


async def watched_later(redis: aioredis.Redis, job_id: str) -> None:
    await seed_job(redis, job_id)
    await Schedule(redis, Scripts(redis), "test").watch([f"openai:{job_id}"], due_ms=LATER_MS)


async def test_a_signed_completion_makes_the_job_due_now(api: Api, redis: aioredis.Redis) -> None:
    await watched_later(redis, "ftjob-done")
    status, body = await api.post("/v1/webhooks/openai", **signed(completion("ftjob-done")))
    assert status == 200, body
    assert body == {
        "received": True,
        "type": "fine_tuning.job.succeeded",
        "job_id": "ftjob-done",
        "polled": True,
    }
    assert await due_ms(redis, "ftjob-done") == 0


async def test_bad_signatures_change_nothing(api: Api, redis: aioredis.Redis) -> None:
    await watched_later(redis, "ftjob-w")
    body = completion("ftjob-w")
    wrong_secret = "whsec_" + "QUJD" * 8
    cases = [
        (signed(body, secret=wrong_secret), 401, "invalid_signature"),
        (signed(body, at=int(time.time()) - 301), 401, "invalid_signature"),  # replayed
        (signed(body, at=int(time.time()) + 400), 401, "invalid_signature"),
        ({"data": body}, 400, "missing_signature"),
    ]
    tampered = signed(body)
    tampered["data"] = completion("ftjob-other")
    cases.append((tampered, 401, "invalid_signature"))
    for request, status, code in cases:
        got, answer = await api.post("/v1/webhooks/openai", **request)
        assert (got, answer["error"]["code"]) == (status, code)
    assert await due_ms(redis, "ftjob-w") == LATER_MS


async def test_other_events_and_unwatched_jobs(start_api: StartApi, redis: aioredis.Redis) -> None:
    served = await start_api(webhook_secret=SecretStr(WEBHOOK_SECRET), jobs="ftjob-mine")
    other = json.dumps(
        {"id": "evt_2", "type": "batch.completed", "created_at": 1, "data": {"id": "batch_1"}}
    ).encode()
    status, body = await served.post("/v1/webhooks/openai", **signed(other))
    assert (status, body["polled"], body["job_id"]) == (200, False, None)
    # FTWATCH_JOBS names the watched jobs: a webhook for another job starts nothing.
    status, body = await served.post("/v1/webhooks/openai", **signed(completion("ftjob-not")))
    assert (status, body["polled"]) == (200, False)
    assert await due_ms(redis, "ftjob-not") is None
    status, body = await served.post("/v1/webhooks/openai", **signed(b'{"id": 1}'))
    assert (status, body["error"]["code"]) == (400, "invalid_payload")


async def test_an_ingested_job_of_the_same_id_is_not_polled(
    api: Api, redis: aioredis.Redis
) -> None:
    # OpenAI's webhook names an OpenAI job: an ingested run that happens to share its id
    # has no upstream to poll and is left alone.
    await seed_job(redis, "trl-1", source="ingest")
    await api.post("/v1/webhooks/openai", **signed(completion("trl-1")))
    assert await due_ms(redis, "trl-1", provider="ingest") is None
    assert await due_ms(redis, "trl-1") == 0  # the OpenAI job trl-1 is polled now


async def test_without_a_secret_the_receiver_is_off(start_api: StartApi) -> None:
    served = await start_api()
    status, body = await served.post("/v1/webhooks/openai", **signed(completion("ftjob-x")))
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_an_unusable_secret_stops_the_start(settings: Settings) -> None:
    broken = settings.model_copy(update={"webhook_secret": SecretStr("whsec_!!!")})
    with pytest.raises(ValueError, match="FTWATCH_WEBHOOK_SECRET"):
        create_app(broken, role="api")
