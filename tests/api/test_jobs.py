"""GET /v1/jobs, /v1/jobs/{id} and /v1/jobs/{id}/events against a real store."""

from __future__ import annotations

import json
import time
from typing import Any

import redis.asyncio as aioredis

from service.models.cadence import Cadence
from service.models.times import epoch_of, iso_time
from service.store import job_reads, keys
from service.store.jobs import JobStore
from service.store.schedule import Schedule
from service.store.scripts import Scripts
from tests.api.conftest import Api, seed_job
from workers.rules.events_file import load_events_text


async def test_list_filters_by_status_source_and_metadata(api: Api, redis: aioredis.Redis) -> None:
    await seed_job(redis, "ftjob-a", metadata={"team": "search"})
    await seed_job(redis, "ftjob-b", status="succeeded", metadata={"team": "ads"})
    await seed_job(redis, "ftjob-c", source="ingest", metadata={"team": "search", "run": "7"})

    async def ids(**params: Any) -> list[str]:
        status, body = await api.get("/v1/jobs", params=params)
        assert status == 200, body
        return [job["job_id"] for job in body["data"]]

    # In `<provider>:<id>` order: the ingested job first.
    assert await ids() == ["ftjob-c", "ftjob-a", "ftjob-b"]
    assert await ids(status="succeeded") == ["ftjob-b"]
    assert await ids(provider="ingest") == ["ftjob-c"]
    assert await ids(provider="openai") == ["ftjob-a", "ftjob-b"]
    assert await ids(source="ingest") == ["ftjob-c"]  # the parameter's old name
    assert await ids(metadata="team=search") == ["ftjob-c", "ftjob-a"]
    both = [("metadata", "team=search"), ("metadata", "run=7")]
    assert await _ids_multi(api, both) == ["ftjob-c"]
    several = [("status", "running"), ("status", "succeeded")]
    assert await _ids_multi(api, several) == ["ftjob-c", "ftjob-a", "ftjob-b"]


async def test_the_status_filter_takes_lifecycle_names_and_openais_older_ones(
    api: Api, redis: aioredis.Redis
) -> None:
    await seed_job(redis, "ftjob-q", status="queued", raw_status="pending")
    await seed_job(redis, "ftjob-v", status="validating", raw_status="validating_files")
    await seed_job(redis, "ftjob-r")
    assert await _ids_multi(api, [("status", "queued")]) == ["ftjob-q"]
    assert await _ids_multi(api, [("status", "pending")]) == ["ftjob-q"]
    assert await _ids_multi(api, [("status", "validating_files")]) == ["ftjob-v"]
    status, body = await api.get("/v1/jobs", params={"status": "defrosting"})
    assert status == 422, body
    assert "unknown status 'defrosting'" in body["error"]["message"]


async def _ids_multi(api: Api, params: list[tuple[str, str]]) -> list[str]:
    status, body = await api.get("/v1/jobs", params=params)
    assert status == 200, body
    return [job["job_id"] for job in body["data"]]


async def test_list_pages_with_the_cursor(api: Api, redis: aioredis.Redis) -> None:
    for i in range(5):
        await seed_job(redis, f"ftjob-{i}")
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        _, body = await api.get("/v1/jobs", params=params)
        seen += [job["job_id"] for job in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"ftjob-{i}" for i in range(5)]


async def test_one_job_with_metrics_rule_states_and_watch_state(
    api: Api, redis: aioredis.Redis
) -> None:
    await seed_job(
        redis,
        "ftjob-x",
        step=12,
        metrics={"train_loss": float("nan"), "x": 0.5},
        last_event_at=1_700_000_000,
    )
    state = {
        "detector": {"kind": "stalled", "since": 1_700_000_000.5},
        "armed": False,
        "fired_count": 1,
        "cooldown_until": 1_700_000_600,
        "last_fired_at": 1_700_000_000.0,
    }
    await redis.hset(
        keys.rule_state("openai:ftjob-x"),
        mapping={
            "reward-plateau": json.dumps(state),
            "_seq": "4",
            "_v": "2",
        },
    )
    await Schedule(redis, Scripts(redis), "test").watch(["openai:ftjob-x"])
    status, job = await api.get("/v1/jobs/ftjob-x")
    assert status == 200
    assert job["step"] == 12
    assert job["metrics"] == {"train_loss": "NaN", "x": 0.5}  # strict JSON, NaN named
    assert job["rules"] == {  # the stored state, its times as the API writes every time
        "reward-plateau": {
            "detector": {"kind": "stalled", "since": "2023-11-14T22:13:20.500Z"},
            "armed": False,
            "fired_count": 1,
            "cooldown_until": "2023-11-14T22:23:20.000Z",
            "last_fired_at": "2023-11-14T22:13:20.000Z",
        }
    }
    assert job["last_event_at"] == "2023-11-14T22:13:20.000Z"
    # The store stamps the snapshot when it writes it: now, in the same form.
    assert iso_time(epoch_of(job["updated_at"])) == job["updated_at"]
    assert abs(epoch_of(job["updated_at"]) - time.time()) < 3600
    assert job["watched"] is True


async def test_an_events_page_is_what_backtest_reads(api: Api, redis: aioredis.Redis) -> None:
    """`curl …/events > page.json; ftwatch rules backtest RULES --events page.json`."""
    await seed_job(redis, "ftjob-bt", events=4)
    _, page = await api.get("/v1/jobs/ftjob-bt/events")
    loaded = load_events_text(json.dumps(page))
    assert loaded.errors == []
    found = await job_reads.job_events(
        redis, "openai:ftjob-bt", before=None, limit=50, max_scan=1000
    )
    stored = [event for _, event in found.items]
    assert loaded.events == stored[::-1]  # oldest first, times back in unix seconds
    assert [e.created_at for e in loaded.events] == [1_700_000_000 + n for n in range(4)]
    # One entry's event on a line of its own reads the same way.
    line = json.dumps(page["data"][0]["event"])
    assert load_events_text(line).events == [stored[0]]


async def test_unknown_job_is_a_404_envelope(api: Api) -> None:
    for path in ("/v1/jobs/ftjob-nope", "/v1/jobs/ftjob-nope/events"):
        status, body = await api.get(path)
        assert status == 404
        assert body["error"]["code"] == "job_not_found"
    status, body = await api.get("/v1/jobs/bad%20id")
    assert status == 404


async def test_events_newest_first_paged_and_only_of_that_job(
    api: Api, redis: aioredis.Redis
) -> None:
    await seed_job(redis, "ftjob-e", events=5)
    await seed_job(redis, "ftjob-other", events=3)
    _, first = await api.get("/v1/jobs/ftjob-e/events", params={"limit": 3})
    steps = [entry["event"]["metrics"]["step"] for entry in first["data"]]
    assert steps == [4, 3, 2]
    assert all(entry["event"]["job_id"] == "ftjob-e" for entry in first["data"])
    # seed_job's events happen a second apart from 1_700_000_000 (2023-11-14T22:13:20Z).
    created = [entry["event"]["created_at"] for entry in first["data"]]
    assert created == [f"2023-11-14T22:13:2{n}.000Z" for n in (4, 3, 2)]
    _, second = await api.get(
        "/v1/jobs/ftjob-e/events", params={"limit": 3, "cursor": first["next_cursor"]}
    )
    assert [e["event"]["metrics"]["step"] for e in second["data"]] == [1, 0]
    assert second["next_cursor"] is None


async def test_bad_query_parameters_are_named(api: Api) -> None:
    status, body = await api.get("/v1/jobs", params={"limit": 0, "colour": "red"})
    assert status == 422
    locs = {d["loc"] for d in body["error"]["details"]}
    assert locs == {"limit", "colour"}
    status, body = await api.get("/v1/jobs/ftjob-x/events", params={"cursor": "yesterday"})
    assert status == 422


async def test_a_job_shows_its_next_poll_and_the_event_its_cadence_expects(
    api: Api, redis: aioredis.Redis
) -> None:
    await seed_job(redis, "ftjob-cad")
    await seed_job(redis, "ftjob-new")
    now = 1_800_000_000.0
    state = Cadence(now, (7.0, 7.0), now, now, now + 7.0)
    store = JobStore(redis, Scripts(redis), maxlen=10_000, window=512)
    snapshot = (await store.snapshots(["openai:ftjob-cad"]))[0]
    await store.append(snapshot, [], cursor=None, cadence=state.encode())
    await Schedule(redis, Scripts(redis), "test").watch(
        ["openai:ftjob-cad"], due_ms=int((now + 7.5) * 1000)
    )
    status, body = await api.get("/v1/jobs/ftjob-cad")
    assert status == 200, body
    assert (body["next_poll_at"], body["next_event_at"]) == (
        "2027-01-15T08:00:07.500Z",
        "2027-01-15T08:00:07.000Z",
    )
    assert body["watched"] is True
    status, body = await api.get("/v1/jobs/ftjob-new")  # never polled, no prediction
    assert (body["watched"], body["next_poll_at"], body["next_event_at"]) == (False, None, None)
