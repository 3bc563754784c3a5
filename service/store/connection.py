"""Open the Redis client every part shares, with the timeouts and retries it needs."""

from __future__ import annotations

from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.asyncio.connection import SSLConnection
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import (
    MasterNotFoundError,
    Sentinel,
    SentinelConnectionPool,
    SentinelManagedConnection,
)
from redis.backoff import ExponentialWithJitterBackoff
from redis.event import EventDispatcherInterface
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import (
    RedisClusterException,
    RedisClusterUnreachableError,
    RedisError,
    ResponseError,
    SlotNotCoveredError,
)
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.redis_target import CLUSTER, SENTINEL, RedisTarget, parse_target
from service.store import keys
from service.store.tls import (
    TLS_ONLY_HINT,
    PlainConnection,
    RedisTLSError,
    TLSConnection,
    explain,
    reset_at_connect,
)

# BLOCK reads stay well below the socket timeout (stack-notes: redis-py 8 defaults to a
# 5 s socket timeout and a longer BLOCK turns into a timeout error).
SOCKET_TIMEOUT = 10.0
BLOCK_MS = 2000
# Each blocked XREADGROUP holds a connection; the blocking pool waits instead of raising.
MAX_CONNECTIONS = 64
# Sentinels answer "where is the master" from memory: a short timeout moves on to the
# next sentinel quickly when one is down.
SENTINEL_TIMEOUT = 1.0
# A failover stops writes for seconds (the old master refuses them until the sentinels
# name the new one): retrying inside the client for about as long (jittered backoff
# capped at 1 s) lets a command complete on the new master instead of failing into the
# loops' outage backoff, which would add up to its cap on top.
SENTINEL_RETRIES = 10


def connect_redis(url: str, *, retries: int = 3) -> aioredis.Redis:
    """A client that reconnects after a server restart (from_url has no retries by default)."""
    scheme = url.partition("://")[0].lower()
    # One process talks to one deployment: the key layout follows it (keys.py, partitions).
    keys.use_partitions(keys.CLUSTER_PARTITIONS if scheme == CLUSTER else 1)
    if scheme == SENTINEL:
        return _sentinel_master(parse_target(url), max(retries, SENTINEL_RETRIES))
    if scheme == CLUSTER:
        return _cluster(parse_target(url), retries)
    options = _options(retries)
    # from_url reads the ssl_* options; these classes say what failed when TLS did.
    if scheme in {"rediss", "redis"}:
        options["connection_class"] = TLSConnection if scheme == "rediss" else PlainConnection
    pool = aioredis.BlockingConnectionPool.from_url(url, **options)
    # from_pool hands the pool to the client, so aclose() also closes its connections.
    return aioredis.Redis.from_pool(pool)


def _options(retries: int) -> dict[str, Any]:
    return {
        "max_connections": MAX_CONNECTIONS,
        "timeout": SOCKET_TIMEOUT,
        "socket_timeout": SOCKET_TIMEOUT,
        "socket_connect_timeout": 5.0,
        "health_check_interval": 30,
        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), retries),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        "decode_responses": True,
    }


class _MasterConnection(SentinelManagedConnection):
    """A connection to the master the sentinels name, asking them again when it is stale."""

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        # After a failover the old master keeps accepting writes until the sentinels
        # demote it (seconds later): those writes are lost. With min-replicas-to-write
        # (deploy/README.md) it refuses them at once with NOREPLICAS, which, like redis-py's
        # READONLY case, means: drop the connection, and the retry asks the sentinels again.
        try:
            return await super().read_response(*args, **kwargs)
        except ResponseError as exc:
            if "NOREPLICAS" not in str(exc):
                raise
            await self.disconnect()
            raise RedisConnectionError(
                "the master lost its replicas: asking the sentinels"
            ) from exc


class _MasterSSLConnection(_MasterConnection, TLSConnection):
    """The same over TLS (`?tls=true`)."""


class _BlockingSentinelPool(SentinelConnectionPool, aioredis.BlockingConnectionPool):
    """Connections to whichever node the sentinels name master, waiting when all are busy."""


class _MasterClient(aioredis.Redis):
    """The master's client; closing it also closes its connections to the sentinels."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        pool = self.connection_pool
        if isinstance(pool, SentinelConnectionPool):
            for sentinel in pool.sentinel_manager.sentinels:
                await sentinel.aclose()


class _Sentinels(Sentinel):
    """Sentinel whose "no master found" says so when the sentinels refused our TLS."""

    async def discover_master(self, service_name: str) -> Any:
        try:
            return await super().discover_master(service_name)
        except MasterNotFoundError as exc:
            # redis-py keeps only each sentinel's error text: ask them once more, to find
            # a TLS failure among the errors and say what to set (only on this failure).
            tls = await self._tls_failure() if self.sentinel_kwargs.get("ssl") else None
            if tls is None:
                raise
            raise tls from exc

    async def _tls_failure(self) -> RedisTLSError | None:
        for sentinel in self.sentinels:
            try:
                await sentinel.ping()
            except RedisError as exc:
                kwargs = sentinel.connection_pool.connection_kwargs
                where = f"the sentinel at {kwargs.get('host')}:{kwargs.get('port')}"
                if (found := explain(exc, where)) is not None:
                    return found
        return None


def _sentinel_master(target: RedisTarget, retries: int) -> aioredis.Redis:
    # A failover makes the old master answer READONLY (or not at all): the managed
    # connection then asks the sentinels again, and the retries span the election.
    # With ?tls=true the sentinels are asked over TLS too (redis_target.py says why).
    tls: dict[str, Any] = {"ssl": True, **target.tls_options()} if target.tls else {}
    sentinel = _Sentinels(
        list(target.hosts),
        sentinel_kwargs={
            "socket_timeout": SENTINEL_TIMEOUT,
            "socket_connect_timeout": SENTINEL_TIMEOUT,
            "password": target.sentinel_password,
            "decode_responses": True,
            **tls,
        },
    )
    client: aioredis.Redis = sentinel.master_for(
        target.service,
        redis_class=_MasterClient,
        connection_pool_class=_BlockingSentinelPool,
        db=target.db,
        password=target.password,
        connection_class=_MasterSSLConnection if target.tls else _MasterConnection,
        **target.tls_options(),
        **_options(retries),
    )
    return client


# Per node: every partition's blocked XREADGROUP holds a connection on its node, and a
# cluster node's pool raises (does not wait) when full, so it gets room to spare.
CLUSTER_MAX_CONNECTIONS = 2 * MAX_CONNECTIONS


# Cluster states that pass by themselves: every node unreachable (a whole-cluster outage,
# a network cut) or a slot no node serves yet (a failover, a resharding). The other
# RedisClusterExceptions (a transaction over two slots, a command with no slot) are bugs
# and stay as they are.
_CLUSTER_OUTAGES = (RedisClusterUnreachableError, SlotNotCoveredError)


def _outage(exc: RedisClusterException, hint: str = "") -> RedisConnectionError:
    return RedisConnectionError(
        f"no node of the Redis Cluster in FTWATCH_REDIS_URL answered: {exc}{hint}"
    )


class _Cluster(RedisCluster):
    """RedisCluster whose "no node reachable" is a ConnectionError, as one Redis's is.

    redis-py raises RedisClusterException (not a RedisError) when no seed node answers or
    accepts the password, and, once a topology refresh has reached no node, from every
    command, script and pipeline until one answers again: the loops' outage handling
    (which waits on RedisError) would take it for a bug and crash-restart instead of
    riding out the outage. A failover of one master needs nothing here: redis-py drops
    the dead node's connections, re-reads the slot map and follows MOVED to the
    promoted replica (tests/integration/test_pipeline_cluster.py)."""

    async def initialize(
        self,
        additional_startup_nodes_info: list[tuple[str, int]] | None = None,
        last_failed_node_name: str | None = None,
    ) -> RedisCluster:
        try:
            return await super().initialize(additional_startup_nodes_info, last_failed_node_name)
        except RedisClusterException as exc:
            where = "a node of the Redis Cluster in FTWATCH_REDIS_URL"
            over_tls = self.connection_kwargs.get("connection_class") is SSLConnection
            tls = explain(exc, where, tls=over_tls)
            if tls is not None:
                raise tls from exc
            hint = f"; {TLS_ONLY_HINT}" if not over_tls and reset_at_connect(exc) else ""
            raise _outage(exc, hint) from exc

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_command(*args, **kwargs)
        except _CLUSTER_OUTAGES as exc:
            raise _outage(exc) from exc

    def pipeline(
        self, transaction: Any | None = None, shard_hint: Any | None = None
    ) -> ClusterPipeline:
        if shard_hint:  # redis-py refuses it in cluster mode: let it say so
            return super().pipeline(transaction, shard_hint)
        return _ClusterPipeline(self, transaction)


class _ClusterPipeline(ClusterPipeline):
    """A pipeline or transaction of `_Cluster`: an unreachable cluster is a ConnectionError."""

    # A member of redis-py's commands protocol that ClusterPipeline never sets nor reads
    # (its client's is used): declared, so mypy does not take the class for abstract.
    _event_dispatcher: EventDispatcherInterface

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        try:
            return await super().execute(raise_on_error, allow_redirections)
        except _CLUSTER_OUTAGES as exc:
            raise _outage(exc) from exc


def _cluster(target: RedisTarget, retries: int) -> aioredis.Redis:
    """A Redis Cluster client: it routes each command (and script) by its keys' slot.

    Typed as `Redis`: RedisCluster has the same command methods the stores call, and every
    key a script, transaction or multi-key command touches shares one slot (keys.py)."""
    options = _options(retries)
    for single_node_only in ("timeout", "max_connections"):
        options.pop(single_node_only)
    client = _Cluster(
        startup_nodes=[ClusterNode(host, port) for host, port in target.hosts],
        password=target.password,
        ssl=target.tls,
        ssl_ca_certs=target.ssl_ca_certs,
        ssl_certfile=target.ssl_certfile,
        ssl_keyfile=target.ssl_keyfile,
        max_connections=CLUSTER_MAX_CONNECTIONS,
        **options,
    )
    return cast(aioredis.Redis, client)
