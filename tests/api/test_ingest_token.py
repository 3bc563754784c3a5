"""FTWATCH_INGEST_TOKEN on every route the app serves: ingest and decisions of ingested
jobs only (SPEC §3). The routes come from the app's router, so a new one cannot escape."""

from __future__ import annotations

import re
from typing import Any

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from service.store.decisions import DecisionStore
from tests.api.conftest import AUTH, TOKEN, Api, StartApi, seed_job
from tests.support import xrange

INGEST_TOKEN = "trainer-token"
TRAINER = {"Authorization": f"Bearer {INGEST_TOKEN}"}
# The only routes the ingest token may use.
INGEST_ROUTES = {
    ("POST", "/v1/ingest/events"),
    ("GET", "/v1/jobs/{job_id}/decision"),
    ("POST", "/v1/jobs/{job_id}/decision/{decision_id}/ack"),
}
POLLED = "ftjob-polled"
INGESTED = "trl-run"
PARAMS = {"job_id": f"openai:{POLLED}", "delivery_id": "1-0", "decision_id": "dec_x"}


@pytest.fixture
async def served(start_api: StartApi, redis: aioredis.Redis) -> Api:
    await seed_job(redis, POLLED)
    await seed_job(redis, INGESTED, provider="ingest")
    return await start_api(api_token=SecretStr(TOKEN), ingest_token=SecretStr(INGEST_TOKEN))


def served_routes(api: Api) -> list[tuple[str, str]]:
    """(method, path template) of every route the running app answers."""
    found = {
        (route.method, route.resource.canonical)
        for route in api.app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    return sorted(found)


def concrete(path: str, **params: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: (PARAMS | params)[m.group(1)], path)


async def send(api: Api, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    body: dict[str, Any] | None = None
    if method == "POST":
        body = {"outcome": "done"} if path.endswith("/ack") else {"events": []}
    return await api.call(method, path, headers=headers, json=body)


async def test_the_ingest_token_is_refused_on_every_other_route(served: Api) -> None:
    routes = served_routes(served)
    assert set(routes) >= INGEST_ROUTES
    others = [r for r in routes if r not in INGEST_ROUTES]
    assert ("POST", "/v1/jobs/{job_id}/pause") in others and ("GET", "/v1/jobs") in others
    for method, template in others:
        status, body = await send(served, method, concrete(template), TRAINER)
        assert status == 403, (method, template, status, body)
        assert body["error"]["code"] == "forbidden"
        assert "FTWATCH_INGEST_TOKEN" in body["error"]["message"]


async def test_the_ingest_token_cannot_pause_or_cancel_a_polled_job(
    served: Api, redis: aioredis.Redis
) -> None:
    for action in ("pause", "cancel", "resume"):
        for job in (POLLED, f"openai:{POLLED}", INGESTED):
            status, _ = await served.post(f"/v1/jobs/{job}/{action}", headers=TRAINER)
            assert status == 403
    assert await xrange(redis, "ftwatch:actions") == []  # nothing was recorded as done


async def test_the_ingest_token_reads_decisions_of_ingested_jobs_only(
    served: Api, redis: aioredis.Redis
) -> None:
    for method, template in sorted(INGEST_ROUTES - {("POST", "/v1/ingest/events")}):
        status, body = await send(served, method, concrete(template), TRAINER)
        assert (status, body["error"]["code"]) == (403, "forbidden"), template
        # The admin token reaches the polled job, which simply has no decisions.
        status, body = await send(served, method, concrete(template), AUTH)
        assert (status, body["error"]["code"]) == (404, "job_not_found"), template
        # Without a token: 401, whatever the job.
        for job in (f"openai:{POLLED}", INGESTED):
            status, body = await send(served, method, concrete(template, job_id=job), {})
            assert (status, body["error"]["code"]) == (401, "unauthorized"), template
    # An ingested job by bare id or its key: allowed (no decision pending: 204).
    for job in (INGESTED, f"ingest:{INGESTED}"):
        status, _ = await served.get(f"/v1/jobs/{job}/decision", headers=TRAINER)
        assert status == 204


async def test_both_tokens_push_events_and_ack(served: Api, redis: aioredis.Redis) -> None:
    event = {"job_id": INGESTED, "event_id": "e1", "created_at": 1_700_000_100}
    for headers in (TRAINER, AUTH):
        status, body = await served.post(
            "/v1/ingest/events", json={"events": [event]}, headers=headers
        )
        assert status == 200, body
    status, body = await served.post("/v1/ingest/events", json={"events": [event]})
    assert status == 401
    status, job = await served.post(f"/v1/jobs/{INGESTED}/pause", headers=AUTH)
    assert job["result"]["outcome"] == "queued"
    [decision] = await DecisionStore(redis).pending(f"ingest:{INGESTED}")
    path = f"/v1/jobs/{INGESTED}/decision/{decision.id}/ack"
    status, acked = await served.post(path, json={"outcome": "done"}, headers=TRAINER)
    assert (status, acked["status"]) == (200, "paused")
    status, again = await served.post(path, json={"outcome": "done"}, headers=AUTH)
    assert (status, again["duplicate"]) == (200, True)


async def test_the_ingest_token_alone_still_guards_its_routes(start_api: StartApi) -> None:
    served = await start_api(ingest_token=SecretStr(INGEST_TOKEN))  # no admin token
    status, body = await served.post("/v1/ingest/events", json={"events": []})
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    status, body = await served.post("/v1/ingest/events", json={"events": []}, headers=AUTH)
    assert (status, body["error"]["message"]) == (403, "wrong token")
    status, body = await served.post("/v1/jobs/x/pause", headers=TRAINER)
    assert status == 403
