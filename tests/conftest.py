"""Shared fixtures: a real redis-server per test, a client on it, settings pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from service.settings import Settings
from service.store.connection import connect_redis
from tests.support import RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.workdir.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(redis_server: RedisServer, tmp_path: Path) -> Settings:
    return Settings(
        redis_url=redis_server.url,
        data_dir=tmp_path / "data",
        poll_interval=0.2,
        discovery_interval=0.5,
        openai_base_url="http://127.0.0.1:9/v1",
        OPENAI_API_KEY="sk-test",
        _env_file=None,
    )


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    client = connect_redis(settings.redis_url or "")
    try:
        yield client
    finally:
        await client.aclose()
