"""`ftwatch events export [JOB…] [--since …]`: recorded events as JSON lines, oldest first,
in exactly the form `ftwatch rules backtest --events` reads (SPEC §2).

The events come from the shared stream (its newest FTWATCH_STREAM_MAXLEN entries), read
forward in bounded chunks. A JOB is `<provider>:<id>` or a bare id (that id at any
provider).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from service.durations import parse_duration
from service.models.ident import JobRef
from service.models.times import epoch_of
from service.settings import Settings
from service.store import keys
from service.store.connection import connect_redis
from service.store.embedded import EmbeddedRedis
from workers.rules.fold import entry_job  # the stream's job key, old entries included

# Entries per XRANGE: a few hundred kilobytes per reply, a round trip per 500 events.
CHUNK = 500
# 2001-09-09: a bare number at least this big is a time, not a duration in seconds.
UNIX_FLOOR = 1_000_000_000


@dataclass(frozen=True)
class Selection:
    """Which events to export: jobs (keys or bare ids; none: all) and the earliest time."""

    jobs: frozenset[str] = frozenset()
    since: float | None = None  # unix seconds

    def wants(self, key: str, created_at: float) -> bool:
        if self.since is not None and created_at < self.since:
            return False
        return not self.jobs or key in self.jobs or JobRef.parse(key).id in self.jobs


def parse_since(text: str, now: float) -> float:
    """`2h` (that long ago), an ISO-8601 time, or unix seconds; ValueError otherwise."""
    try:
        return _moment(text)
    except ValueError:
        pass
    try:
        return now - parse_duration(text)
    except ValueError:
        raise ValueError(
            f"--since {text!r}: give a duration (30m, 2h, 1d), an ISO-8601 time "
            "(2026-12-01T08:00:00Z) or unix seconds"
        ) from None


def _moment(text: str) -> float:
    """Unix seconds (`1764576000`) or an ISO-8601 time with its zone; a smaller number
    is a duration in seconds (`90`), as everywhere else in ftwatch."""
    if text.replace(".", "", 1).isdigit():
        if float(text) >= UNIX_FLOOR:
            return float(text)
        raise ValueError("a duration")
    return epoch_of(text)


def selection(jobs: Sequence[str], since: str | None, now: float | None = None) -> Selection:
    at = None if since is None else parse_since(since, time.time() if now is None else now)
    return Selection(frozenset(jobs), at)


async def entries(client: aioredis.Redis, start: str) -> AsyncIterator[dict[str, str]]:
    """Every stream entry from `start` on, oldest first, CHUNK at a time (on a cluster,
    partition after partition: each job's events stay in order, all in one partition)."""
    for p in keys.partitions():
        async for fields in _partition_entries(client, keys.events_stream(p), start):
            yield fields


async def _partition_entries(
    client: aioredis.Redis, stream: str, start: str
) -> AsyncIterator[dict[str, str]]:
    lower = start
    while True:
        rows: Any = await client.xrange(stream, min=lower, max="+", count=CHUNK)
        for entry_id, fields in rows:
            lower = f"({entry_id}"
            yield fields
        if len(rows) < CHUNK:
            return


async def export(client: aioredis.Redis, chosen: Selection, out: TextIO) -> int:
    """Write the chosen events to `out`; how many were written."""
    # An event is stored after it happened: entries older than `since` cannot match.
    start = "-" if chosen.since is None else str(max(int(chosen.since * 1000), 0))
    written = 0
    async for fields in entries(client, start):
        line = fields.get("e")
        if line is None:
            continue
        event = json.loads(line)
        if chosen.wants(entry_job(fields), float(event.get("created_at", 0))):
            out.write(line + "\n")
            written += 1
    return written


async def _answers(url: str) -> bool:
    client = connect_redis(url, retries=0)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


async def run_export(settings: Settings, chosen: Selection, out: TextIO) -> int:
    """Export from FTWATCH_REDIS_URL, else from the embedded Redis of FTWATCH_DATA_DIR:
    the running service's, or one started on its data for the export."""
    embedded: EmbeddedRedis | None = None
    url = settings.redis_url
    if url is None:
        local = EmbeddedRedis(settings.data_dir)
        url = local.url
        if not (local.socket.exists() and await _answers(url)):
            embedded, url = local, await local.start()
    client = connect_redis(url)
    try:
        return await export(client, chosen, out)
    finally:
        await client.aclose()
        if embedded is not None:
            await embedded.stop()
