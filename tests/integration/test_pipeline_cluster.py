"""The whole pipeline on a three-master Redis Cluster (SPEC §3, §11).

Every script and transaction touches one slot (no CROSSSLOT), and the jobs' data spreads
over the nodes: each job's keys carry its partition's hash tag (service/store/keys.py).
"""

from __future__ import annotations

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
from tests.ha import ClusterSet, cluster_set
from tests.integration.conftest import Pipeline, stream_ids
from tests.integration.test_pipeline import (
    DIVERGES,
    GRADER,
    HEALTHY,
    PLATEAU,
    assert_each_demo_job_handled_once,
)
from tests.support import eventually, every_partition
from workers.notify.delivery import delivery_id

DEMO_JOBS = (PLATEAU, GRADER, HEALTHY, DIVERGES)


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[ClusterSet]:
    with cluster_set(tmp_path / "cluster") as nodes:
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
    homes = {_home(pipeline, keys.job(job_key("openai", j))) for j in DEMO_JOBS}
    assert len(homes) > 1, "every job's keys on one node: the partitions do not spread"
    assert all(count > 0 for count in (await cluster.node_key_counts()).values())


async def _all_delivered(pipeline: Pipeline) -> bool:
    store = DeliveryStore(pipeline.redis, Scripts(pipeline.redis))
    fired = [f for f in await pipeline.firings() if not f.actions[0].at]
    states = [await store.state(delivery_id(f, "log")) for f in fired]
    return len(fired) >= len(DEMO_JOBS) and all(s == "delivered" for s in states)


def _home(pipeline: Pipeline, key: str) -> int:
    """The port of the master that serves `key`'s slot."""
    node = cast(RedisCluster, pipeline.redis).get_node_from_key(key)
    assert node is not None, f"no node serves {key}"
    return int(node.port)
