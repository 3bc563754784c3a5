"""The poller against the simulator and a real redis-server, in one process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, MutableMapping
from functools import partial
from typing import Any

import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from service.app import create_app
from service.metrics import Metrics
from service.settings import Settings
from service.store import keys
from tests.integration.conftest import ManualSim, stream_ids
from tests.support import eventually, served
from workers.rules.loading import parse_rules_text

NO_RULES = parse_rules_text("rules: []")


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def poller(settings: Settings, manual_sim: ManualSim, metrics: Metrics) -> AsyncIterator[str]:
    app_settings = settings.model_copy(update={"openai_base_url": manual_sim.base_url})
    app = create_app(app_settings, role="poller", metrics=metrics, rules=NO_RULES)
    async with served(app) as url:
        yield url


async def caught_up(redis: aioredis.Redis, sim: ManualSim, job_id: str) -> bool:
    return await stream_ids(redis, job_id) == sim.upstream_ids(job_id)


@pytest.mark.usefixtures("poller")
async def test_250_events_between_two_polls_arrive_once_in_order(
    redis: aioredis.Redis, manual_sim: ManualSim
) -> None:
    job = "ftjob-poll-0"
    manual_sim.clock.advance(3)
    await eventually(lambda: caught_up(redis, manual_sim, job), message="first events")
    manual_sim.platform.fast_forward(job, steps=250)
    assert len(manual_sim.upstream_ids(job)) > 250
    await eventually(lambda: caught_up(redis, manual_sim, job), message="250 new events")
    ids = await stream_ids(redis, job)
    assert len(ids) == len(set(ids))


@pytest.mark.usefixtures("poller")
async def test_bad_events_are_counted_logged_and_skipped(
    redis: aioredis.Redis, manual_sim: ManualSim, metrics: Metrics
) -> None:
    job = "ftjob-poll-1"
    manual_sim.platform.inject_events(
        job,
        [
            {
                "object": "fine_tuning.job.event",
                "created_at": 1,
                "level": "info",
                "message": "no id",
            },
            {"object": "fine_tuning.job.event", "id": "ev-bad-type", "created_at": "yesterday"},
            {
                "object": "fine_tuning.job.event",
                "id": "ev-null",
                "created_at": 5,
                "level": "info",
                "message": "Fine tuning job started",
                "type": "message",
                "data": None,
            },
        ],
    )
    with capture_logs() as logs:
        manual_sim.clock.advance(2)
        await eventually(lambda: _has(redis, job, "ev-null"), message="the good event")
    rejected = [log for log in logs if log["event"] == "event_rejected"]
    assert rejected and all(log.get("job_id") == job for log in rejected)
    assert metrics.events_rejected.labels("openai", "malformed")._value.get() >= 2
    assert not await _has(redis, job, "ev-bad-type")
    manual_sim.clock.advance(3)  # the poller goes on
    newest = manual_sim.upstream_ids(job)[-1]
    await eventually(lambda: _has(redis, job, newest), message="later events")
    ids = await stream_ids(redis, job)
    assert len(ids) == len(set(ids))


@pytest.mark.usefixtures("poller")
async def test_unknown_statuses_keep_the_job_watched(
    redis: aioredis.Redis, manual_sim: ManualSim
) -> None:
    job = "ftjob-poll-2"
    manual_sim.clock.advance(2)
    for status in ("pausing", "defrosting"):
        manual_sim.platform.set_status(job, status)
        await eventually(partial(_status_seen, redis, job, status), message=status)
    manual_sim.platform.set_status(job, "running")
    manual_sim.clock.advance(5)
    await eventually(lambda: caught_up(redis, manual_sim, job), message="events after")


async def _has(redis: aioredis.Redis, job: str, event_id: str) -> bool:
    return event_id in await stream_ids(redis, job)


async def _status_seen(redis: aioredis.Redis, job: str, raw: str) -> bool:
    return await redis.hget(f"ftwatch:job:openai:{job}", "raw_status") == raw


@pytest.mark.usefixtures("poller")
async def test_insufficient_quota_is_reported_not_retried_and_the_poller_goes_on(
    redis: aioredis.Redis, manual_sim: ManualSim, metrics: Metrics
) -> None:
    job = "ftjob-poll-0"
    manual_sim.clock.advance(2)
    await eventually(lambda: caught_up(redis, manual_sim, job), message="first events")
    with capture_logs() as logs:
        await manual_sim.set_faults(insufficient_quota=True)
        await eventually(lambda: _logged(logs, "poll_failed"), message="quota error logged")
        await manual_sim.set_faults(insufficient_quota=False)
    failure = next(log for log in logs if log["event"] == "poll_failed")
    assert failure["code"] == "insufficient_quota"
    retries = [log for log in logs if log["event"] == "upstream_retry"]
    assert retries == []
    # A regular poll lists only the job's events; that request met the quota error.
    assert metrics.upstream_requests.labels("openai", "list_events", "429")._value.get() >= 1
    manual_sim.clock.advance(3)
    await eventually(lambda: caught_up(redis, manual_sim, job), message="polling resumed")


async def _logged(logs: list[MutableMapping[str, Any]], event: str) -> bool:
    return any(log["event"] == event for log in logs)


@pytest.mark.usefixtures("poller")
async def test_watched_jobs_are_counted_by_status(
    redis: aioredis.Redis, manual_sim: ManualSim, metrics: Metrics
) -> None:
    manual_sim.clock.advance(2)

    async def three_running() -> bool:
        return bool(metrics.jobs_watched.labels("openai", "running")._value.get() == 3)

    await eventually(three_running, message="ftwatch_jobs_watched{status=running} == 3")


@pytest.mark.usefixtures("poller")
async def test_a_job_whose_lease_moved_stops_being_reported_here(
    redis: aioredis.Redis, manual_sim: ManualSim, metrics: Metrics
) -> None:
    job = "ftjob-poll-0"
    manual_sim.clock.advance(3)
    await eventually(lambda: _reports_step(metrics, job), message="the job's step series")
    await manual_sim.set_faults(latency_ms=1500)  # the next poll stays in flight a while
    await eventually(
        lambda: _exists(redis, keys.lease(f"openai:{job}")), message="a poll in flight"
    )
    await redis.set(
        keys.lease(f"openai:{job}"), "another-replica"
    )  # it took the job over meanwhile
    await eventually(lambda: _not(_reports_step(metrics, job)), message="series forgotten")


async def _reports_step(metrics: Metrics, job_id: str) -> bool:
    return any(
        s.labels.get("job_id") == job_id for m in metrics.job_step.collect() for s in m.samples
    )


async def _exists(redis: aioredis.Redis, key: str) -> bool:
    return bool(await redis.exists(key))


async def _not(check: Awaitable[bool]) -> bool:
    return not await check
