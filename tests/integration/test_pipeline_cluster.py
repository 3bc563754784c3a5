"""The whole pipeline on a three-master Redis Cluster (SPEC §3, §11), and on one whose
master is killed mid-run and replaced by its replica.

Every script and transaction touches one slot (no CROSSSLOT), and the jobs' data spreads
over the nodes: each job's keys carry its partition's hash tag (service/store/keys.py).
A failover loses nothing and doubles nothing: ftwatch follows the slots to the promoted
replica, re-fetches from its persisted cursors, and its actions and deliveries are
idempotent.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import cast

import pytest
from redis.asyncio.cluster import RedisCluster

from service.models.ident import job_key
from service.settings import Settings
from service.store import keys
from service.store.deliveries import DeliveryStore
from service.store.scripts import Scripts
from simulator.presets import default_scenario
from tests.ha import ClusterSet, cluster_set
from tests.integration.conftest import Pipeline, stream_ids
from tests.integration.test_pipeline import (
    DIVERGES,
    GRADER,
    HEALTHY,
    PLATEAU,
    assert_each_demo_job_handled_once,
)
from tests.support import eventually, every_partition, xrange
from workers.notify.delivery import delivery_id

DEMO_JOBS = (PLATEAU, GRADER, HEALTHY, DIVERGES)
RESTARTS = re.compile(r"^ftwatch_loop_restarts_total\{.*\} (\S+)$", re.M)


@pytest.fixture
def replicas() -> int:
    """Replicas per master: routing and hash tags need none; the failover test asks for one."""
    return 0


@pytest.fixture
async def cluster(tmp_path: Path, replicas: int) -> AsyncIterator[ClusterSet]:
    with cluster_set(tmp_path / "cluster", replicas=replicas) as nodes:
        await nodes.ready()
        yield nodes


@pytest.fixture(autouse=True)
def single_redis_layout_after() -> Iterator[None]:
    """The key layout is the process's (set on connect): the next test's Redis is one node."""
    yield
    keys.use_partitions(1)


@pytest.fixture
def settings(cluster: ClusterSet, tmp_path: Path) -> Settings:
    """The tests' settings, pointed at the cluster instead of one redis-server."""
    return Settings(
        redis_url=cluster.url,
        data_dir=tmp_path / "data",
        openai_base_url="http://127.0.0.1:9/v1",
        OPENAI_API_KEY="sk-test",
        _env_file=None,
    )


@pytest.mark.timeout(120)
async def test_the_pipeline_runs_on_a_cluster_with_jobs_spread_over_its_nodes(
    pipeline: Pipeline, cluster: ClusterSet
) -> None:
    await assert_each_demo_job_handled_once(pipeline)
    await assert_nothing_lost_or_doubled(pipeline)
    homes = {_home(pipeline, keys.job(job_key("openai", j))) for j in DEMO_JOBS}
    assert len(homes) > 1, "every job's keys on one node: the partitions do not spread"
    assert all(count > 0 for count in (await cluster.node_key_counts()).values())


@pytest.mark.parametrize("replicas", [1])
# Jobs of ~21 s: the kill lands in their first steps, and the ~3 s without those slots
# (node timeout, election) and the loops' backoff end while every job still runs.
@pytest.mark.parametrize("scenario", [default_scenario(step_period=0.5)], ids=["jobs-of-21s"])
@pytest.mark.timeout(120)
async def test_a_master_killed_mid_run_loses_nothing_and_doubles_nothing(
    pipeline: Pipeline, cluster: ClusterSet
) -> None:
    plateau_key = keys.job(job_key("openai", PLATEAU))
    await eventually(
        lambda: _events_of(pipeline, PLATEAU), timeout=20, interval=0.1, message="no events"
    )
    assert not [f for f in await pipeline.firings() if f.rule == "reward-plateau"]
    killed = await cluster.master_of(plateau_key)
    killed_at = time.time()
    heir = await cluster.kill_master(plateau_key)  # the master of 3 of the 4 demo jobs
    await assert_each_demo_job_handled_once(pipeline, timeout=60, recorded_within=30)
    await assert_nothing_lost_or_doubled(pipeline)
    # The plateau job's data is the promoted replica's now, and its events went on there.
    assert _home(pipeline, plateau_key) == heir.port != killed.port
    stream = keys.events_stream(keys.partition(job_key("openai", PLATEAU)))
    entries = await xrange(pipeline.redis, stream)
    assert int(entries[-1][0].split("-")[0]) > killed_at * 1000
    await eventually(lambda: _ready(pipeline), timeout=20, message="/readyz not back to 200")
    assert await _loop_restarts(pipeline) == 0, "a loop crashed on the failover"


async def assert_nothing_lost_or_doubled(pipeline: Pipeline) -> None:
    """Each rule fired once, no event appended twice, nothing dead-lettered, every
    notification delivered once (after `assert_each_demo_job_handled_once`)."""
    firings = Counter((f.rule, f.job.id) for f in await pipeline.firings() if not f.actions[0].at)
    assert firings[("loss-divergence", DIVERGES)] == 1
    assert firings[("grader-errors", GRADER)] == 1
    for job in DEMO_JOBS:
        ids = await stream_ids(pipeline.redis, job)
        assert ids and len(ids) == len(set(ids)), f"{job}: an event appended twice"
    # Nothing failed into a dead-letter stream (a CROSSSLOT error would have, or stopped
    # the pipeline before the jobs settled).
    assert await every_partition(pipeline.redis, keys.dead_events_stream) == []
    assert await every_partition(pipeline.redis, keys.dead_actions_stream) == []
    # Every notification once: each firing's delivery to the log receiver is `delivered`
    # (its record is the idempotency key of that notice), none left queued or parked.
    await eventually(lambda: _all_delivered(pipeline), timeout=20, message="notices not sent")
    assert await pipeline.redis.zcard(keys.delivery_queue("log")) == 0
    assert await pipeline.redis.xlen(keys.dead_deliveries_stream()) == 0
    async with pipeline.http.get(pipeline.app_url + "/healthz") as resp:
        assert resp.status == 200


async def _events_of(pipeline: Pipeline, job: str) -> bool:
    return len(await stream_ids(pipeline.redis, job)) >= 3


async def _ready(pipeline: Pipeline) -> bool:
    async with pipeline.http.get(pipeline.app_url + "/readyz") as resp:
        return resp.status == 200


async def _loop_restarts(pipeline: Pipeline) -> float:
    """Restarts of every background loop so far (a crash, not an outage ridden out)."""
    async with pipeline.http.get(pipeline.app_url + "/metrics") as resp:
        text = await resp.text()
    counts = [float(n) for n in RESTARTS.findall(text)]
    assert counts, "no ftwatch_loop_restarts_total series"
    return sum(counts)


async def _all_delivered(pipeline: Pipeline) -> bool:
    store = DeliveryStore(pipeline.redis, Scripts(pipeline.redis))
    fired = [f for f in await pipeline.firings() if not f.actions[0].at]
    states = [await store.state(delivery_id(f, "log")) for f in fired]
    return len(fired) >= len(DEMO_JOBS) and all(s == "delivered" for s in states)


def _home(pipeline: Pipeline, key: str) -> int:
    """The port of the master that serves `key`'s slot (in the client's slot map)."""
    node = cast(RedisCluster, pipeline.redis).get_node_from_key(key)
    assert node is not None, f"no node serves {key}"
    return int(node.port)
