"""The whole pipeline on a Sentinel set, with two failovers forced mid-run (SPEC §3, §11).

A `SENTINEL FAILOVER` and then a SIGKILLed primary: ftwatch follows the sentinels to each
new primary, re-fetches from its persisted cursors, and nothing is lost or done twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service.settings import Settings
from service.store import keys
from simulator.presets import default_scenario
from simulator.scenario import Scenario
from tests.ha import SentinelSet, sentinel_set
from tests.integration.conftest import Pipeline, stream_ids
from tests.integration.test_pipeline import (
    DIVERGES,
    GRADER,
    HEALTHY,
    PLATEAU,
    assert_each_demo_job_handled_once,
)
from tests.support import eventually, xrange


@pytest.fixture
async def sentinels(tmp_path: Path) -> AsyncIterator[SentinelSet]:
    with sentinel_set(tmp_path / "ha") as ha:
        await ha.ready()
        yield ha


@pytest.fixture
def settings(sentinels: SentinelSet, tmp_path: Path) -> Settings:
    """The tests' settings, pointed at the Sentinel set instead of one redis-server."""
    return Settings(
        redis_url=sentinels.url,
        data_dir=tmp_path / "data",
        openai_base_url="http://127.0.0.1:9/v1",
        OPENAI_API_KEY="sk-test",
        _env_file=None,
    )


@pytest.fixture
def scenario() -> Scenario:
    # Slower than the single-node run (jobs of ~40 s): both failovers (and the ~8 s the
    # sentinels take to demote the old primary between them) land while the jobs run,
    # and a job whose rule fired during an outage is still running when ftwatch is back.
    return default_scenario(step_period=1.0)


async def _stream_length(pipeline: Pipeline) -> int:
    return int(await pipeline.redis.xlen(keys.EVENTS_STREAM))


async def _failovers(pipeline: Pipeline, sentinels: SentinelSet) -> float:
    """A planned failover once events flow, a killed primary after more; returns its time."""
    await eventually(lambda: _at_least(pipeline, 10), timeout=20, message="no events")
    await sentinels.failover()
    await sentinels.healed()  # a second failure while one node is still rejoining
    after_first = await _stream_length(pipeline)
    await eventually(lambda: _at_least(pipeline, after_first + 10), timeout=20)
    killed_at = time.time()
    await sentinels.kill_primary()
    return killed_at


async def _at_least(pipeline: Pipeline, entries: int) -> bool:
    return await _stream_length(pipeline) >= entries


@pytest.mark.timeout(180)
async def test_a_failover_mid_run_loses_nothing_and_doubles_nothing(
    pipeline: Pipeline, sentinels: SentinelSet
) -> None:
    disruption = asyncio.create_task(_failovers(pipeline, sentinels))
    # Each failover stops writes for seconds (an election, the old primary refusing
    # writes until the sentinels name the new one): the last events may land after it.
    await assert_each_demo_job_handled_once(pipeline, timeout=90, recorded_within=45)
    killed_at = await disruption
    # The run went on after the primary died: events reached the promoted replica.
    entries = await xrange(pipeline.redis, keys.EVENTS_STREAM)
    assert int(entries[-1][0].split("-")[0]) > killed_at * 1000
    for job in (PLATEAU, GRADER, HEALTHY, DIVERGES):
        ids = await stream_ids(pipeline.redis, job)
        assert ids and len(ids) == len(set(ids)), f"{job}: an event appended twice"
    firings = Counter((f.rule, f.job.id) for f in await pipeline.firings() if not f.actions[0].at)
    assert firings[("loss-divergence", DIVERGES)] == 1
    assert firings[("grader-errors", GRADER)] == 1
    async with pipeline.http.get(pipeline.app_url + "/healthz") as resp:
        assert resp.status == 200
