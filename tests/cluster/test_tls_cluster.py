"""A three-master cluster on TLS only (`--tls-cluster yes`, clients must show a certificate):
`redis+cluster://…?tls=true&ssl_ca_certs=…&ssl_certfile=…&ssl_keyfile=…` reaches every
node; a wrong CA or a missing client certificate says so."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from service.models.job import JobSnapshot
from service.store import keys
from service.store.connection import connect_redis
from service.store.jobs import JobStore
from service.store.schedule import Schedule
from service.store.scripts import Scripts
from service.store.tls import RedisTLSError
from tests.cluster.test_store_on_cluster import JOBS, PAST, event, node_of
from tests.ha import ClusterSet, cluster_set
from tests.support import TlsFiles


@pytest.fixture(scope="module")
def tls_cluster(
    tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles
) -> Iterator[ClusterSet]:
    """Started once for the module; every node stopped at the end."""
    tls = dataclasses.replace(tls_files, auth_clients=True)
    with cluster_set(tmp_path_factory.mktemp("tls-cluster"), appendonly=False, tls=tls) as nodes:
        asyncio.run(nodes.ready())
        yield nodes


@pytest.fixture
async def client(tls_cluster: ClusterSet) -> AsyncIterator[aioredis.Redis]:
    found = connect_redis(tls_cluster.url)
    await found.flushall()
    try:
        yield found
    finally:
        await found.aclose()
        keys.use_partitions(1)


async def refusal(url: str) -> RedisTLSError:
    client = connect_redis(url, retries=0)
    try:
        with pytest.raises(RedisConnectionError) as refused:
            await client.ping()
    finally:
        await client.aclose()
        keys.use_partitions(1)
    assert isinstance(refused.value, RedisTLSError), refused.value
    return refused.value


async def test_the_stores_work_on_every_node_over_tls(
    client: aioredis.Redis, tls_cluster: ClusterSet
) -> None:
    assert "?tls=true&ssl_ca_certs=" in tls_cluster.url and "&ssl_keyfile=" in tls_cluster.url
    schedule = Schedule(client, Scripts(client), "r1")
    assert await schedule.watch(JOBS, due_ms=PAST) == len(JOBS)
    assert sorted((await schedule.claim(1000, 30))[0]) == sorted(JOBS)
    store = JobStore(client, Scripts(client), maxlen=1000, window=100)
    for job in JOBS[:6]:
        snapshot = JobSnapshot(job_id=job.partition(":")[2], status="running")
        assert len(await store.append(snapshot, [event(job, 1)], cursor="ev-1")) == 1
    # The slot map named the nodes' TLS ports (the only ones they listen on).
    assert {node_of(client, keys.job(j)) for j in JOBS} == {n.port for n in tls_cluster.nodes}


async def test_a_wrong_ca_is_a_tls_error_naming_the_option(
    tls_cluster: ClusterSet, tmp_path: Path
) -> None:
    assert tls_cluster.tls is not None
    other = TlsFiles.issue(tmp_path / "other")
    url = tls_cluster.url.replace(quote(str(tls_cluster.tls.ca)), quote(str(other.ca)))
    error = await refusal(url)
    assert "Redis Cluster" in str(error)
    assert "certificate verify failed" in str(error) and "ssl_ca_certs=" in str(error)


async def test_no_client_certificate_is_a_tls_error_naming_the_options(
    tls_cluster: ClusterSet,
) -> None:
    url = tls_cluster.url.partition("&ssl_certfile=")[0]
    error = await refusal(url)
    # The server's alert (CERTIFICATE_REQUIRED) or its reset, whichever the client reads
    # first (TLS 1.3 checks the client's certificate after the handshake): the same hint.
    assert "asks for a client certificate" in str(error) and "ssl_keyfile=" in str(error)


async def test_plain_text_to_the_tls_cluster_hints_at_tls(tls_cluster: ClusterSet) -> None:
    client = connect_redis(tls_cluster.url.partition("?")[0], retries=0)
    try:
        with pytest.raises(RedisConnectionError) as refused:
            await client.ping()
    finally:
        await client.aclose()
        keys.use_partitions(1)
    assert not isinstance(refused.value, RedisTLSError)
    assert "no node of the Redis Cluster" in str(refused.value)
    assert "speaks only TLS" in str(refused.value) and "tls=true" in str(refused.value)
