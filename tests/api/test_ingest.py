"""POST /v1/ingest/events: validated, idempotent, on the same stream as polled events."""

from __future__ import annotations

import io
import json
from typing import Any

import redis.asyncio as aioredis

from service.store import keys
from tests.api.conftest import Api, seed_job
from tests.support import xrange


def metrics_event(i: int, job_id: str = "trl-run-1", **extra: Any) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "event_id": f"step-{i}",
        "created_at": 1_700_000_000 + i,
        "type": "metrics",
        "data": {"step": i, "train_loss": 1.0 / (i + 1)},
        **extra,
    }


async def stream_events(redis: aioredis.Redis) -> list[dict[str, Any]]:
    rows = await xrange(redis, keys.EVENTS_STREAM)
    return [json.loads(fields["e"]) for _, fields in rows]


async def test_events_land_on_the_stream_once_and_build_the_job(
    api: Api, redis: aioredis.Redis
) -> None:
    batch = {
        "events": [
            metrics_event(0, method="supervised", metadata={"team": "rl"}),
            metrics_event(1),
            metrics_event(2, status="running"),
        ]
    }
    status, body = await api.post("/v1/ingest/events", json=batch, auth=True)
    assert status == 200, body
    assert body == {"accepted": 3, "duplicates": 0, "jobs": ["trl-run-1"], "decisions": []}
    # The same batch again (a retry after a timeout): nothing is stored twice.
    status, body = await api.post("/v1/ingest/events", json=batch, auth=True)
    assert body == {"accepted": 0, "duplicates": 3, "jobs": ["trl-run-1"], "decisions": []}
    events = await stream_events(redis)
    assert [e["event_id"] for e in events] == ["step-0", "step-1", "step-2"]
    assert {e["provider"] for e in events} == {"ingest"}
    assert events[1]["metrics"] == {"step": 1.0, "train_loss": 0.5}
    assert events[2]["method"] == "supervised"  # job facts carry over to later events
    assert events[2]["metadata"] == {"team": "rl"}

    _, job = await api.get("/v1/jobs/trl-run-1")
    assert (job["provider"], job["job_id"]) == ("ingest", "trl-run-1")
    assert job["status"] == "running"
    assert job["step"] == 2
    assert job["metrics"] == {"train_loss": 1 / 3}
    assert job["watched"] is False  # never polled upstream
    assert job["last_event_at"] == "2023-11-14T22:13:22.000Z"  # the API writes ISO-8601


async def test_an_event_time_is_unix_seconds_or_iso_8601(api: Api, redis: aioredis.Redis) -> None:
    batch = {
        "events": [
            metrics_event(0, created_at="2025-12-01T08:00:00.750Z"),
            metrics_event(1, created_at="2025-12-01T09:00:01+01:00"),
            metrics_event(2, created_at="1764576002"),  # digits, as before
        ]
    }
    status, body = await api.post("/v1/ingest/events", json=batch, auth=True)
    assert status == 200, body
    # Kept as the whole unix seconds every event has; the rules read them so.
    assert [e["created_at"] for e in await stream_events(redis)] == [
        1764576000 + n for n in range(3)
    ]
    _, page = await api.get("/v1/jobs/trl-run-1/events")
    assert [e["event"]["created_at"] for e in page["data"]] == [
        f"2025-12-01T08:00:0{n}.000Z" for n in (2, 1, 0)
    ]
    wrong = {"events": [metrics_event(3, created_at="2026-12-01T08:00:00")]}  # no zone
    status, body = await api.post("/v1/ingest/events", json=wrong, auth=True)
    assert status == 422
    assert "ISO-8601 time with its zone" in body["error"]["details"][0]["message"]
    _, text = await api.get("/metrics")
    assert 'ftwatch_events_ingested_total{source="ingest",type="metrics"} 3.0' in text


async def test_a_late_retry_does_not_roll_the_job_back(api: Api) -> None:
    await api.post("/v1/ingest/events", json={"events": [metrics_event(5)]}, auth=True)
    await api.post("/v1/ingest/events", json={"events": [metrics_event(1)]}, auth=True)
    _, job = await api.get("/v1/jobs/trl-run-1")
    assert job["step"] == 5


async def test_explicit_metrics_and_non_finite_values(api: Api) -> None:
    event = metrics_event(0) | {"data": None, "metrics": {"train_loss": float("inf")}}
    body = json.dumps({"events": [event]})  # Python writes Infinity; the API reads it
    status, _ = await api.post(
        "/v1/ingest/events", data=body, auth=True, headers={"Content-Type": "application/json"}
    )
    assert status == 200
    _, job = await api.get("/v1/jobs/trl-run-1")
    assert job["metrics"]["train_loss"] == "Infinity"


async def test_invalid_events_are_refused_naming_index_and_field(
    api: Api, redis: aioredis.Redis
) -> None:
    bad = metrics_event(1)
    del bad["created_at"]
    batch = {"events": [metrics_event(0), bad, metrics_event(2, type="progress")]}
    status, body = await api.post("/v1/ingest/events", json=batch, auth=True)
    assert status == 422
    locs = [d["loc"] for d in body["error"]["details"]]
    assert locs == ["events[1].created_at", "events[2].type"]
    assert "events[1].created_at" in body["error"]["message"]
    assert await stream_events(redis) == []  # nothing of a refused batch is stored


async def test_size_limits(api: Api) -> None:
    many = {"events": [metrics_event(i) for i in range(501)]}
    status, body = await api.post("/v1/ingest/events", json=many, auth=True)
    assert status == 413
    assert body["error"] == {
        "code": "too_many_items",
        "message": "events: at most 500 items per request",
        "details": None,
    }
    huge = {"events": [metrics_event(0, message="x" * 16_000) for _ in range(70)]}
    raw = io.BytesIO(json.dumps(huge).encode())  # over 1 MiB
    status, body = await api.post("/v1/ingest/events", data=raw, auth=True)
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"
    status, body = await api.post("/v1/ingest/events", data=b"{not json", auth=True)
    assert (status, body["error"]["code"]) == (400, "invalid_json")
    deep: Any = {}
    for _ in range(40):
        deep = {"x": deep}
    status, body = await api.post(
        "/v1/ingest/events", json={"events": [metrics_event(0, data=deep)]}, auth=True
    )
    assert status == 422
    assert body["error"]["details"][0]["loc"] == "events[0].data"


async def test_events_pushed_for_a_polled_jobs_id_never_touch_that_job(
    api: Api, redis: aioredis.Redis
) -> None:
    # The review's poisoning: a pushed event with a polled job's id must land apart.
    await seed_job(redis, "ftjob-openai", step=3, metrics={"valid_reward_mean": 0.2})
    poison = metrics_event(0, job_id="ftjob-openai", data={"step": 1_000_000, "train_loss": 0.1})
    status, _ = await api.post("/v1/ingest/events", json={"events": [poison]}, auth=True)
    assert status == 200
    _, polled = await api.get("/v1/jobs/openai:ftjob-openai")
    assert (polled["step"], polled["metrics"]) == (3, {"valid_reward_mean": 0.2})
    _, pushed = await api.get("/v1/jobs/ingest:ftjob-openai")
    assert (pushed["provider"], pushed["step"]) == ("ingest", 1_000_000)
    status, body = await api.get("/v1/jobs/ftjob-openai")
    assert (status, body["error"]["code"]) == (409, "ambiguous_job")
    assert "openai:ftjob-openai" in body["error"]["message"]
    assert "ingest:ftjob-openai" in body["error"]["message"]


async def test_a_flood_of_metric_names_keeps_the_scrape_and_the_job_small(api: Api) -> None:
    # The review's attack: three batches with 256 new names per event made 162,049
    # series for one job (10.7 MB to scrape). FTWATCH_MAX_JOB_METRICS (64) bounds them.
    for batch in range(3):
        events = [
            metrics_event(
                batch * 100 + i,
                data={"step": batch * 100 + i, **{f"m{batch}_{i}_{n}": 1.0 for n in range(255)}},
            )
            for i in range(100)
        ]
        status, body = await api.post("/v1/ingest/events", json={"events": events}, auth=True)
        assert status == 200, body
    _, text = await api.get("/metrics")
    assert len(text.encode()) < 1_000_000
    series = [line for line in text.splitlines() if line.startswith("ftwatch_job_metric{")]
    assert 0 < len(series) <= 64
    assert "ftwatch_job_metrics_dropped_total" in text
    # The job's snapshot (and its API view) keeps 256 names and counts the rest.
    status, job = await api.get("/v1/jobs/ingest:trl-run-1")
    assert status == 200
    assert len(job["metrics"]) == 256
    assert job["metrics_dropped"] == 300 * 255 - 256


async def test_an_ingested_status_is_a_lifecycle_name_or_an_older_openai_one(
    api: Api, redis: aioredis.Redis
) -> None:
    batch = {"events": [metrics_event(0, status="validating_files"), metrics_event(1)]}
    status, body = await api.post("/v1/ingest/events", json=batch, auth=True)
    assert status == 200, body
    assert [e["status"] for e in await stream_events(redis)] == ["validating", "validating"]
    _, job = await api.get("/v1/jobs/trl-run-1")
    assert (job["status"], job["raw_status"]) == ("validating", None)
    later = {"events": [metrics_event(2, status="paused")]}
    assert (await api.post("/v1/ingest/events", json=later, auth=True))[0] == 200
    assert (await api.get("/v1/jobs/trl-run-1"))[1]["status"] == "paused"
    bad = {"events": [metrics_event(3, status="defrosting")]}
    status, body = await api.post("/v1/ingest/events", json=bad, auth=True)
    assert status == 422
    assert body["error"]["details"][0]["loc"] == "events[0].status"
