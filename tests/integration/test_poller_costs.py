"""What polling costs upstream and Redis: requests per poll, the shared budget, back-pressure."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, MutableMapping
from functools import partial
from typing import Any

import redis.asyncio as aioredis
from structlog.testing import capture_logs

from service.app import create_app
from service.metrics import Metrics
from service.settings import Settings
from service.store import keys
from service.store.schedule import Schedule
from service.store.scripts import Scripts
from tests.integration.conftest import ManualSim, stream_ids
from tests.support import eventually, served
from workers.rules.loading import parse_rules_text

NO_RULES = parse_rules_text("rules: []")
JOB = "ftjob-poll-0"


@contextlib.asynccontextmanager
async def poller(
    settings: Settings, sim: ManualSim, metrics: Metrics, **changes: Any
) -> AsyncIterator[str]:
    app_settings = settings.model_copy(update={"openai_base_url": sim.base_url, **changes})
    app = create_app(app_settings, role="poller", metrics=metrics, rules=NO_RULES)
    async with served(app) as url:
        yield url


def requests(metrics: Metrics, endpoint: str) -> float:
    labels = [{"provider": "openai", "endpoint": endpoint, "code": c} for c in ("200", "429")]
    counts = [
        metrics.registry.get_sample_value("ftwatch_upstream_requests_total", x) for x in labels
    ]
    return sum(count or 0.0 for count in counts)


async def caught_up(redis: aioredis.Redis, sim: ManualSim, job_id: str = JOB) -> bool:
    return await stream_ids(redis, job_id) == sim.upstream_ids(job_id)


async def test_a_running_jobs_regular_poll_lists_only_its_events(
    settings: Settings, redis: aioredis.Redis, manual_sim: ManualSim
) -> None:
    metrics = Metrics()
    async with poller(settings, manual_sim, metrics, discovery_interval=60):
        manual_sim.clock.advance(2)
        await eventually(lambda: caught_up(redis, manual_sim), message="first events")
        reads = requests(metrics, "get_job")
        lists = requests(metrics, "list_events")
        for _ in range(5):
            manual_sim.clock.advance(2)
            newest = manual_sim.upstream_ids(JOB)[-1]
            await eventually(partial(_has, redis, newest), message="later events")
        assert requests(metrics, "list_events") >= lists + 5
        assert requests(metrics, "get_job") == reads  # the status came from the listing


async def _has(redis: aioredis.Redis, event_id: str) -> bool:
    return event_id in await stream_ids(redis, JOB)


async def test_a_nudge_reads_the_job_so_a_silent_status_change_is_seen(
    settings: Settings, redis: aioredis.Redis, manual_sim: ManualSim
) -> None:
    metrics = Metrics()
    async with poller(settings, manual_sim, metrics, discovery_interval=60, poll_interval=0.1):
        manual_sim.clock.advance(2)
        await eventually(lambda: caught_up(redis, manual_sim), message="first events")
        manual_sim.platform.set_status(JOB, "paused")  # no event says so; no sweep soon
        await Schedule(redis, Scripts(redis), "webhook").nudge([f"openai:{JOB}"])
        await eventually(lambda: _status(redis, "paused"), message="status after the nudge")
        assert await redis.hget(keys.job(f"openai:{JOB}"), "refresh") is None


async def _status(redis: aioredis.Redis, status: str) -> bool:
    return await redis.hget(keys.job(f"openai:{JOB}"), "status") == status


async def test_a_finished_job_is_drained_then_dropped(
    settings: Settings, redis: aioredis.Redis, manual_sim: ManualSim
) -> None:
    metrics = Metrics()
    async with poller(settings, manual_sim, metrics, discovery_interval=60):
        manual_sim.clock.advance(2)
        await eventually(lambda: caught_up(redis, manual_sim), message="first events")
        manual_sim.platform.fast_forward(JOB, steps=500)  # runs to the end and succeeds
        await eventually(lambda: _status(redis, "succeeded"), message="completion seen")
        await eventually(lambda: caught_up(redis, manual_sim), message="every event drained")
        assert await redis.zscore(keys.SCHEDULE, f"openai:{JOB}") is None


async def test_replicas_share_one_request_budget(
    settings: Settings, redis: aioredis.Redis, manual_sim: ManualSim
) -> None:
    rate = 20.0
    # Every interval (no cadence model), so the polls ask for more than the budget allows.
    limits = {
        "max_requests_per_second": rate,
        "poll_interval": 0.05,
        "discovery_interval": 60,
        "max_poll_factor": 1.0,
    }
    a, b = Metrics(), Metrics()
    async with (
        poller(settings, manual_sim, a, replica_name="a", **limits),
        poller(settings, manual_sim, b, replica_name="b", **limits),
    ):
        manual_sim.clock.advance(2)
        await eventually(lambda: _above(a, b, 5), message="polling started")
        start, started = _total(a, b), asyncio.get_running_loop().time()
        await asyncio.sleep(1.5)
        sent = _total(a, b) - start
        elapsed = asyncio.get_running_loop().time() - started
    # At most the rate plus one in-flight request per replica; and the budget is used.
    assert sent <= rate * elapsed + rate + 2
    assert sent >= rate * elapsed * 0.5


async def _above(a: Metrics, b: Metrics, count: float) -> bool:
    return _total(a, b) > count


def _total(*all_metrics: Metrics) -> float:
    endpoints = ("list_jobs", "get_job", "list_events")
    return sum(requests(m, e) for m in all_metrics for e in endpoints)


async def test_pollers_pause_while_the_rules_fall_behind(
    settings: Settings, redis: aioredis.Redis, manual_sim: ManualSim
) -> None:
    metrics = Metrics()
    bound = 100
    with capture_logs() as logs:
        async with poller(
            settings, manual_sim, metrics, max_stream_backlog=bound, stream_maxlen=1000
        ):
            for _ in range(40):  # far more events than the bound; no rule worker reads them
                manual_sim.clock.advance(10)
                await asyncio.sleep(0.05)
            await eventually(lambda: _logged(logs, "backpressure_started"), message="started")
            held = await redis.xlen(keys.EVENTS_STREAM)
            # Bounded: the bound plus what the polls in flight when it was noticed appended.
            assert bound < held < 1000
            manual_sim.clock.advance(50)
            await asyncio.sleep(0.5)
            assert await redis.xlen(keys.EVENTS_STREAM) == held  # nothing more appended
            await _consume_everything(redis)
            await eventually(lambda: _logged(logs, "backpressure_ended"), message="ended")
            await eventually(lambda: _longer(redis, held), message="polling resumed")
    # Logged once per episode: one start before the end (with no consumer after
    # _consume_everything, the resumed polls may start a second episode; that is fine).
    events = [log["event"] for log in logs if log["event"].startswith("backpressure_")]
    assert events[: events.index("backpressure_ended") + 1] == [
        "backpressure_started",
        "backpressure_ended",
    ]


async def _logged(logs: list[MutableMapping[str, Any]], event: str) -> bool:
    return any(log["event"] == event for log in logs)


async def _longer(redis: aioredis.Redis, length: int) -> bool:
    return bool(await redis.xlen(keys.EVENTS_STREAM) > length)


async def _consume_everything(redis: aioredis.Redis) -> None:
    """What a rule worker does, minus the rules: read the stream as `rules` and ack it."""
    await redis.xgroup_create(keys.EVENTS_STREAM, "rules", id="0")
    while True:
        reply: Any = await redis.xreadgroup("rules", "t", {keys.EVENTS_STREAM: ">"}, count=500)
        if not reply or not reply[0][1]:
            return
        await redis.xack(keys.EVENTS_STREAM, "rules", *[i for i, _ in reply[0][1]])


async def test_idle_jobs_are_polled_less_often_than_running_ones(
    settings: Settings, redis: aioredis.Redis, manual_sim: ManualSim
) -> None:
    idle_job = "ftjob-poll-1"
    manual_sim.platform.set_status(idle_job, "queued")
    cadence = {"poll_interval": 0.3, "idle_poll_factor": 5, "discovery_interval": 60}
    async with poller(settings, manual_sim, Metrics(), **cadence):
        await eventually(lambda: _status_of(redis, idle_job, "queued"), message="idle seen")
        polls: dict[str, set[str]] = {JOB: set(), idle_job: set()}
        for _ in range(150):  # every poll rewrites the job's snapshot (updated_at)
            for job_id, seen in polls.items():
                seen.add(str(await redis.hget(keys.job(f"openai:{job_id}"), "updated_at")))
            await asyncio.sleep(0.02)
    assert len(polls[JOB]) >= 2 * len(polls[idle_job]) >= 2


async def _status_of(redis: aioredis.Redis, job_id: str, status: str) -> bool:
    return await redis.hget(keys.job(f"openai:{job_id}"), "status") == status
