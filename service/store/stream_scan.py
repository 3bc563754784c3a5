"""Bounded newest-first paging over a Redis stream, filtered in Python (for the API).

Redis streams have no secondary index, so a filtered page (one job's events among all
jobs') costs a scan. Every call reads at most `max_scan` entries; when it stops early it
hands back a cursor so the caller continues where it left off instead of timing out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import redis.asyncio as aioredis

T = TypeVar("T")

# A stream entry id as Redis prints it: "<ms>-<seq>", each part an unsigned 64-bit number.
STREAM_ID = re.compile(r"(\d{1,20})-(\d{1,20})")
_U64 = 2**64
# Entries fetched per XREVRANGE: big enough to amortise round trips, small enough that
# one reply stays well under a megabyte for typical entries.
CHUNK = 500


def is_stream_id(text: str) -> bool:
    """True for an id Redis accepts ("1700000000000-0"); Redis rejects the rest with errors."""
    found = STREAM_ID.fullmatch(text)
    return found is not None and all(int(part) < _U64 for part in found.groups())


def canonical_id(text: str) -> str:
    """`0007-01` → `7-1`; anything that is not an id is returned unchanged."""
    found = STREAM_ID.fullmatch(text)
    return f"{int(found.group(1))}-{int(found.group(2))}" if found else text


@dataclass
class ScanPage(Generic[T]):
    """Matching items newest first, as (entry id, item), and the cursor for the next page."""

    items: list[tuple[str, T]] = field(default_factory=list)
    next_cursor: str | None = None  # None: the stream holds nothing older to look at
    scanned: int = 0


async def scan_back(
    client: aioredis.Redis,
    stream: str,
    parse: Callable[[str, dict[str, str]], T | None],
    *,
    before: str | None,
    limit: int,
    max_scan: int,
) -> ScanPage[T]:
    """Up to `limit` entries older than `before` that `parse(id, fields)` turns into items.

    Reads at most `max_scan` entries; `next_cursor` is the id to pass as `before` next.
    """
    page: ScanPage[T] = ScanPage()
    if before is not None and canonical_id(before) == "0-0":
        return page  # nothing is older than the first possible id (and "(0-0" is an error)
    upper = f"({before}" if before else "+"
    while page.scanned < max_scan:
        count = min(CHUNK, max_scan - page.scanned)
        rows: Any = await client.xrevrange(stream, max=upper, min="-", count=count)
        for entry_id, fields in rows:
            page.scanned += 1
            upper = f"({entry_id}"
            page.next_cursor = entry_id
            item = parse(entry_id, fields)
            if item is not None:
                page.items.append((entry_id, item))
                if len(page.items) >= limit:
                    return page
        if len(rows) < count:
            page.next_cursor = None  # reached the oldest entry
            return page
    return page


def _order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def scan_back_all(
    client: aioredis.Redis,
    streams: Sequence[str],
    parse: Callable[[str, dict[str, str]], T | None],
    *,
    before: str | None,
    limit: int,
    max_scan: int,
) -> ScanPage[T]:
    """`scan_back` over the partitions of one stream (a cluster's), merged newest first.

    Each partition is scanned on its own; the cursor is the newest point where one of them
    stopped, so the next page misses nothing any partition left unread. Entries of other
    partitions with the cursor's own id (one millisecond) stay on the page, past `limit`:
    the next page starts strictly below that id."""
    if len(streams) == 1:
        return await scan_back(
            client, streams[0], parse, before=before, limit=limit, max_scan=max_scan
        )
    pages = [
        await scan_back(client, s, parse, before=before, limit=limit, max_scan=max_scan)
        for s in streams
    ]
    merged = sorted((i for p in pages for i in p.items), key=lambda i: _order(i[0]), reverse=True)
    stops = [p.next_cursor for p in pages if p.next_cursor]
    cut = max(stops, key=_order) if stops else None
    kept = [i for i in merged if cut is None or _order(i[0]) >= _order(cut)]
    if len(kept) > limit:
        cut = kept[limit - 1][0]
        kept = [i for i in kept if _order(i[0]) >= _order(cut)]
    return ScanPage(kept, cut, sum(p.scanned for p in pages))
