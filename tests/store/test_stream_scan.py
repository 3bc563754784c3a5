"""Bounded newest-first scans of a stream: filters, cursors, the scan cap."""

from __future__ import annotations

import redis.asyncio as aioredis

from service.store.stream_scan import canonical_id, is_stream_id, scan_back, scan_back_all


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


def every(entry_id: str, fields: dict[str, str]) -> str:
    return f"{fields['s']}/{entry_id}"


async def test_partitions_written_in_the_same_millisecond_page_without_a_loss(
    redis: aioredis.Redis,
) -> None:
    # Two partitions' streams can hold the same entry id (one millisecond, sequence 0);
    # a page that ends on such a tie must not leave the other partition's entry behind.
    for stream in ("a", "b", "c"):
        for ms in (1, 2, 3):
            await redis.xadd(stream, {"s": stream}, id=f"{ms}-0")
    for limit in (1, 2, 4):
        seen: list[str] = []
        cursor: str | None = None
        for _ in range(20):  # bounded: nine entries, at least one a page
            page = await scan_back_all(
                redis, ["a", "b", "c"], every, before=cursor, limit=limit, max_scan=100
            )
            seen += [item for _, item in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == sorted(f"{s}/{ms}-0" for s in "abc" for ms in (1, 2, 3)), limit
        assert len(seen) == len(set(seen))
