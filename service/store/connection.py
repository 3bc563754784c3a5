"""Open the Redis client every part shares, with the timeouts and retries it needs."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# BLOCK reads stay well below the socket timeout (stack-notes: redis-py 8 defaults to a
# 5 s socket timeout and a longer BLOCK turns into a timeout error).
SOCKET_TIMEOUT = 10.0
BLOCK_MS = 2000
# Each blocked XREADGROUP holds a connection; the blocking pool waits instead of raising.
MAX_CONNECTIONS = 64


def connect_redis(url: str, *, retries: int = 3) -> aioredis.Redis:
    """A client that reconnects after a server restart (from_url has no retries by default)."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=SOCKET_TIMEOUT,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=5.0,
        health_check_interval=30,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), retries),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        decode_responses=True,
    )
    # from_pool hands the pool to the client, so aclose() also closes its connections.
    return aioredis.Redis.from_pool(pool)
