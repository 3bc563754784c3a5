"""One three-master Redis Cluster for this directory's tests, emptied before each test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from service.store import keys
from service.store.connection import connect_redis
from tests.ha import ClusterSet, cluster_set


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterSet]:
    """Started once (a cluster takes seconds to form); every node stopped at the end."""
    with cluster_set(tmp_path_factory.mktemp("cluster")) as nodes:
        asyncio.run(nodes.ready())
        yield nodes


@pytest.fixture
async def cluster_redis(cluster: ClusterSet) -> AsyncIterator[aioredis.Redis]:
    """ftwatch's own cluster client (keys partitioned while it lives), on an empty cluster."""
    client = connect_redis(cluster.url)
    await client.flushall()
    try:
        yield client
    finally:
        await client.aclose()
        keys.use_partitions(1)  # the layout is the process's: the next test's is one Redis
