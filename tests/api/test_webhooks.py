"""POST /v1/webhooks/openai: Standard Webhooks signature, then an immediate poll of the job."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from service.app import create_app
from service.settings import Settings
from service.store import keys
from service.store.schedule import Schedule
from service.store.scripts import Scripts
from simulator.app import create_app as create_simulator
from simulator.platform import ManualClock, Platform
from simulator.scenario import JobSpec, Scenario
from tests.api.conftest import WEBHOOK_SECRET, Api, StartApi, seed_job
from tests.support import served
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


def signed(
    body: bytes,
    *,
    secret: str = WEBHOOK_SECRET,
    at: int | None = None,
    msg_id: str | None = None,
) -> dict[str, Any]:
    """A request OpenAI would send: a fresh webhook-id unless `msg_id` names one."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    headers = sign(secret, msg_id, at if at is not None else int(time.time()), body)
    return {"data": body, "headers": headers | {"Content-Type": "application/json"}}


class Upstream:
    """The simulator serving OpenAI's fine-tuning API; counts the requests it answered."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.base_url = f"{url}/v1"

    async def reads(self) -> int:
        async with aiohttp.ClientSession() as http, http.get(f"{self.url}/_sim/stats") as r:
            stats = await r.json()
        return int(stats["total"])


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    """The simulator with two jobs upstream, neither known to ftwatch yet."""
    clock = ManualClock()
    jobs = [JobSpec(id=job, start_after=0, total_steps=50) for job in ("ftjob-sim", "trl-1")]
    platform = Platform(Scenario(jobs=jobs), now=clock.now, wall=clock.wall)
    async with served(create_simulator(platform)) as url:
        yield Upstream(url)


async def api_on(start_api: StartApi, upstream: Upstream, **overrides: Any) -> Api:
    return await start_api(
        webhook_secret=SecretStr(WEBHOOK_SECRET), openai_base_url=upstream.base_url, **overrides
    )


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
        "duplicate": False,
    }
    assert await due_ms(redis, "ftjob-done") == 0


async def test_a_replayed_webhook_is_answered_and_ignored(api: Api, redis: aioredis.Redis) -> None:
    await watched_later(redis, "ftjob-done")
    request = signed(completion("ftjob-done"))
    status, body = await api.post("/v1/webhooks/openai", **request)
    assert (status, body["polled"], body["duplicate"]) == (200, True, False)
    await Schedule(redis, Scripts(redis), "test").watch(["openai:ftjob-done"], due_ms=LATER_MS)
    await redis.zadd(keys.SCHEDULE, {"openai:ftjob-done": LATER_MS})  # polled since
    status, body = await api.post("/v1/webhooks/openai", **request)
    assert status == 200, body
    assert body == {
        "received": True,
        "type": "fine_tuning.job.succeeded",
        "job_id": "ftjob-done",
        "polled": False,
        "duplicate": True,
    }
    assert await due_ms(redis, "ftjob-done") == LATER_MS  # the replay moved nothing
    # The id is kept while the message can still verify (its timestamp ± 5 minutes).
    ttl = await redis.ttl(keys.webhook_seen(request["headers"]["webhook-id"]))
    assert 300 < ttl <= 300 + 60


async def test_an_unsigned_request_cannot_burn_a_webhook_id(
    api: Api, redis: aioredis.Redis
) -> None:
    await watched_later(redis, "ftjob-w")
    genuine = signed(completion("ftjob-w"), msg_id="msg_target")
    forged = signed(completion("ftjob-w"), msg_id="msg_target", secret="whsec_" + "QUJD" * 8)
    status, _ = await api.post("/v1/webhooks/openai", **forged)
    assert status == 401
    assert await redis.exists(keys.webhook_seen("msg_target")) == 0
    status, body = await api.post("/v1/webhooks/openai", **genuine)
    assert (status, body["duplicate"], body["polled"]) == (200, False, True)
    assert await due_ms(redis, "ftjob-w") == 0


async def test_replays_of_a_webhook_for_a_new_job_read_it_upstream_once(
    start_api: StartApi, upstream: Upstream, redis: aioredis.Redis
) -> None:
    served_api = await api_on(start_api, upstream)
    request = signed(completion("ftjob-sim"))
    answers = await asyncio.gather(
        *(served_api.post("/v1/webhooks/openai", **request) for _ in range(50))
    )
    assert {status for status, _ in answers} == {200}
    fresh = [body for _, body in answers if not body["duplicate"]]
    assert [body["polled"] for body in fresh] == [True]  # one acted on, 49 replays ignored
    reads = await upstream.reads()
    assert reads <= 3
    assert await due_ms(redis, "ftjob-sim") == 0  # the job upstream has is watched now
    assert await redis.smembers(keys.JOBS) == {"openai:ftjob-sim"}


async def test_webhooks_for_jobs_nobody_has_leave_nothing_behind(
    start_api: StartApi, upstream: Upstream, redis: aioredis.Redis
) -> None:
    served_api = await api_on(start_api, upstream)
    made_up = [f"ftjob-{secrets.token_hex(8)}" for _ in range(100)]
    for job_id in made_up:
        status, body = await served_api.post("/v1/webhooks/openai", **signed(completion(job_id)))
        assert (status, body["polled"], body["duplicate"]) == (200, False, False), body
    assert await redis.scard(keys.JOBS) == 0
    assert await redis.zcard(keys.SCHEDULE) == 0
    assert await upstream.reads() == 100  # one confirming read each, answered 404
    # A webhook for a job the provider has is still watched at once.
    status, body = await served_api.post("/v1/webhooks/openai", **signed(completion("ftjob-sim")))
    assert (status, body["polled"]) == (200, True)
    assert await due_ms(redis, "ftjob-sim") == 0


async def test_an_unreachable_upstream_watches_nothing(
    start_api: StartApi, redis: aioredis.Redis
) -> None:
    # The settings' OPENAI_BASE_URL is a closed port: the job can be neither confirmed nor
    # denied; discovery, which lists the real jobs, is left to find it.
    served_api = await start_api(webhook_secret=SecretStr(WEBHOOK_SECRET), upstream_max_attempts=1)
    status, body = await served_api.post("/v1/webhooks/openai", **signed(completion("ftjob-x")))
    assert (status, body["polled"]) == (200, False)
    assert await redis.scard(keys.JOBS) == 0


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
    start_api: StartApi, upstream: Upstream, redis: aioredis.Redis
) -> None:
    # OpenAI's webhook names an OpenAI job: an ingested run that happens to share its id
    # has no upstream to poll and is left alone.
    served_api = await api_on(start_api, upstream)
    await seed_job(redis, "trl-1", source="ingest")
    await served_api.post("/v1/webhooks/openai", **signed(completion("trl-1")))
    assert await due_ms(redis, "trl-1", provider="ingest") is None
    assert await due_ms(redis, "trl-1") == 0  # the OpenAI job trl-1 (upstream has it) is polled


async def test_without_a_secret_the_receiver_is_off(start_api: StartApi) -> None:
    served = await start_api()
    status, body = await served.post("/v1/webhooks/openai", **signed(completion("ftjob-x")))
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_an_unusable_secret_stops_the_start(settings: Settings) -> None:
    broken = settings.model_copy(update={"webhook_secret": SecretStr("whsec_!!!")})
    with pytest.raises(ValueError, match="FTWATCH_WEBHOOK_SECRET"):
        create_app(broken, role="api")
