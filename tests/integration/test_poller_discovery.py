"""Discovery of jobs that ran between two sweeps, and polls that fail unexpectedly: the
poller and the rules against the simulator and a real redis-server, in one process."""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from service.app import create_app
from service.metrics import Metrics
from service.models.event import NormalizedEvent
from service.models.firing import Firing
from service.settings import Settings
from service.store import keys
from simulator.scenario import JobSpec
from tests.integration.conftest import ManualSim, rft_job, stream_ids
from tests.support import eventually, recorded_firings, served, xrange
from workers.rules.loading import parse_rules_text

FINISHED = parse_rules_text(
    """
rules:
  - name: finished
    when: {status: [succeeded, failed, cancelled]}
    do: [{notify: log}]
"""
)
LIVE = "ftjob-live"
# Finished long before ftwatch first swept the account: history, never adopted.
OLD = "ftjob-old"
# Queued (does not start while the test runs): no step, so no poll writes `step`.
QUEUED = "ftjob-queued"


@pytest.fixture
def sim_jobs() -> list[JobSpec]:
    old = JobSpec(id=OLD, start_after=0.0, step_period=0.1, total_steps=3, elapsed=600.0)
    queued = JobSpec(id=QUEUED, start_after=10_000.0)
    return [old, queued, rft_job(LIVE)]


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def ftwatch(
    settings: Settings, manual_sim: ManualSim, metrics: Metrics
) -> AsyncIterator[str]:
    app_settings = settings.model_copy(
        update={"openai_base_url": manual_sim.base_url, "rule_tick_interval": 0.2}
    )
    app = create_app(app_settings, role="all", metrics=metrics, rules=FINISHED)
    async with served(app) as url:
        yield url


def sweeps(metrics: Metrics) -> float:
    """Jobs listing pages read so far (one a sweep here: the account has three jobs)."""
    value = metrics.registry.get_sample_value(
        "ftwatch_upstream_requests_total",
        {"provider": "openai", "endpoint": "list_jobs", "code": "200"},
    )
    return value or 0.0


async def swept(metrics: Metrics, times: int) -> None:
    """Wait until `times` more sweeps have listed the account's jobs."""
    target = sweeps(metrics) + times

    async def done() -> bool:
        return sweeps(metrics) >= target

    await eventually(done, message=f"{times} more sweeps")


async def finished_firings(redis: aioredis.Redis, job_id: str) -> list[Firing]:
    firings = await recorded_firings(redis)
    return [f for f in firings if f.rule == "finished" and f.job.id == job_id]


async def status_events(redis: aioredis.Redis, job_id: str) -> list[NormalizedEvent]:
    entries = await xrange(redis, keys.EVENTS_STREAM)
    events = [NormalizedEvent.model_validate_json(fields["e"]) for _, fields in entries]
    return [e for e in events if e.job_id == job_id and e.type == "status"]


async def first_sweep_done(redis: aioredis.Redis) -> bool:
    return await redis.hget(keys.discovery_mark("openai"), "id") == LIVE


@pytest.mark.usefixtures("ftwatch")
async def test_a_fresh_start_does_not_adopt_the_accounts_finished_jobs(
    redis: aioredis.Redis, metrics: Metrics
) -> None:
    await eventually(lambda: first_sweep_done(redis), message="the first sweep's mark")
    await swept(metrics, 2)
    assert not await redis.exists(keys.job(f"openai:{OLD}"))
    assert not await redis.sismember(keys.JOBS, f"openai:{OLD}")
    assert await redis.zscore(keys.SCHEDULE, f"openai:{LIVE}") is not None
    assert await stream_ids(redis, OLD) == []


@pytest.mark.usefixtures("ftwatch")
async def test_a_job_that_ran_between_two_sweeps_is_drained_and_finishes_once(
    redis: aioredis.Redis, manual_sim: ManualSim, metrics: Metrics
) -> None:
    quick = "ftjob-quick"
    await eventually(lambda: first_sweep_done(redis), message="the first sweep's mark")
    # Created and finished with no await in between: no sweep can see it run. Its
    # created_at is the mark's own second, so only its place in the listing tells.
    manual_sim.platform.add_job(JobSpec(id=quick, start_after=0.0, step_period=0.1, total_steps=3))
    manual_sim.platform.fast_forward(quick, steps=3)
    assert manual_sim.platform.get_job(quick)["status"] == "succeeded"

    found = await eventually(lambda: finished_firings(redis, quick), message="the finished notice")
    assert found[0].type == "ftwatch.job.finished"
    upstream = manual_sim.upstream_ids(quick)
    assert len(upstream) > 3
    await eventually(
        lambda: redis.hget(keys.job(f"openai:{quick}"), "done"), message="drained, dropped"
    )
    assert await stream_ids(redis, quick) == upstream
    await swept(metrics, 2)  # later sweeps list it again: it stays dropped
    assert await stream_ids(redis, quick) == upstream
    assert len(await finished_firings(redis, quick)) == 1
    changes = await status_events(redis, quick)
    assert [e.status for e in changes] == ["succeeded"]
    assert await redis.zscore(keys.SCHEDULE, f"openai:{quick}") is None
    assert not await redis.exists(keys.job(f"openai:{OLD}"))


def poll_errors(metrics: Metrics) -> float:
    value = metrics.registry.get_sample_value("ftwatch_poll_errors_total", {"provider": "openai"})
    return value or 0.0


@pytest.mark.usefixtures("ftwatch")
async def test_a_poll_that_fails_unexpectedly_is_logged_counted_and_retried(
    redis: aioredis.Redis, manual_sim: ManualSim, metrics: Metrics
) -> None:
    job_hash = keys.job(f"openai:{QUEUED}")
    await eventually(lambda: redis.hget(job_hash, "raw_status"), message="the first poll")
    with capture_logs() as logs:
        # A field no poll writes while the job is queued, and one no load can read.
        await redis.hset(job_hash, "step", "forty-two")

        async def failed_twice() -> bool:
            return poll_errors(metrics) >= 2

        await eventually(failed_twice, message="the job polled again and failing again")
        await redis.hdel(job_hash, "step")
        manual_sim.platform.set_status(QUEUED, "running")
        await eventually(
            lambda: _raw_status_is(redis, job_hash, "running"), message="polled after repair"
        )
    crashed = [log for log in logs if log["event"] == "poll_crashed"]
    assert len(crashed) == 1, crashed
    assert crashed[0]["job_id"] == QUEUED and crashed[0]["provider"] == "openai"
    assert "ValidationError" in crashed[0]["error"]
    assert await redis.zscore(keys.SCHEDULE, f"openai:{QUEUED}") is not None
    assert not _logged_for_others(logs, QUEUED)


async def _raw_status_is(redis: aioredis.Redis, job_hash: str, raw: str) -> bool:
    return await redis.hget(job_hash, "raw_status") == raw


def _logged_for_others(logs: list[MutableMapping[str, Any]], job_id: str) -> bool:
    return any(log["event"] == "poll_crashed" and log.get("job_id") != job_id for log in logs)
