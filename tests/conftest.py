"""Shared fixtures: a real redis-server per test, a client on it, settings pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from service.settings import Settings
from service.store.connection import connect_redis
from tests.support import RedisServer, TlsFiles


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A test CA and a server certificate for 127.0.0.1 it signed, shared by the run."""
    return TlsFiles.issue(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def redis_server(
    request: pytest.FixtureRequest, tmp_path: Path, tls_files: TlsFiles
) -> Iterator[RedisServer]:
    """One redis-server; `@pytest.mark.parametrize("redis_server", ["tls"], indirect=True)`
    makes it a TLS-only one, and every fixture built on it (settings, redis) uses rediss://."""
    tls = tls_files if getattr(request, "param", "plain") == "tls" else None
    server = RedisServer(tmp_path / "redis", tls=tls)
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
