"""Bounded newest-first scans of a stream: filters, cursors, the scan cap."""

from __future__ import annotations

import redis.asyncio as aioredis

from service.store.stream_scan import canonical_id, is_stream_id, scan_back


def even(entry_id: str, fields: dict[str, str]) -> int | None:
    n = int(fields["n"])
    return n if n % 2 == 0 else None


async def fill(redis: aioredis.Redis, count: int) -> None:
    for n in range(count):
        await redis.xadd("s", {"n": str(n)})


async def test_pages_cover_every_match_once(redis: aioredis.Redis) -> None:
    await fill(redis, 25)
    seen: list[int] = []
    cursor: str | None = None
    while True:
        page = await scan_back(redis, "s", even, before=cursor, limit=4, max_scan=1000)
        seen += [n for _, n in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(range(24, -1, -2))


def nothing(entry_id: str, fields: dict[str, str]) -> int | None:
    return None


async def test_the_scan_cap_ends_a_page_early_with_a_cursor(redis: aioredis.Redis) -> None:
    await fill(redis, 30)
    page = await scan_back(redis, "s", nothing, before=None, limit=5, max_scan=10)
    assert (page.items, page.scanned) == ([], 10)
    assert page.next_cursor is not None
    rest = await scan_back(redis, "s", even, before=page.next_cursor, limit=100, max_scan=100)
    assert [n for _, n in rest.items] == list(range(18, -1, -2))
    assert rest.next_cursor is None


async def test_missing_stream_and_lowest_cursor(redis: aioredis.Redis) -> None:
    empty = await scan_back(redis, "nothing", even, before=None, limit=5, max_scan=10)
    assert (empty.items, empty.next_cursor) == ([], None)
    await fill(redis, 3)
    none = await scan_back(redis, "s", even, before="000-0", limit=5, max_scan=10)
    assert none.items == []


def test_stream_ids() -> None:
    assert is_stream_id("1700000000000-0")
    assert not is_stream_id("1700000000000")
    assert not is_stream_id(f"{2**64}-0")
    assert not is_stream_id("yesterday")
    assert canonical_id("007-01") == "7-1"
