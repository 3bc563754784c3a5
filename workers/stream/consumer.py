"""A consumer-group reader: own pending entries first, then new ones, reclaiming the idle.

The handler gets each read whole (a batch), so it can share round trips across entries.
At-least-once: an entry is acknowledged only after its handler finished. A crashed
consumer's entries are claimed by the others (XAUTOCLAIM) once idle for
`claim_idle_ms`; an entry delivered more than `max_deliveries` times goes to the
dead-letter stream with its last error, so one poison entry cannot block the rest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError, ResponseError

from service.store.connection import BLOCK_MS
from workers.outage import Outage

log = structlog.get_logger(__name__)

Fields = dict[str, str]
# A RETRY entry is retried in-process this many times (every retry_after_s) before it is
# left to the reclaim; 40 x 50 ms covers another consumer finishing the entry before it.
IN_PROCESS_TRIES = 40
MAX_REMEMBERED_ERRORS = 10_000


class Disposition(Enum):
    """What became of an entry: acknowledge it, or leave it pending for a later try."""

    DONE = "done"
    # Finished and acknowledged already, in the handler's own atomic write (saves an XACK).
    ACKED = "acked"
    RETRY = "retry"


@dataclass(frozen=True)
class Entry:
    """One stream entry as delivered: its id, fields, and how often the group delivered it."""

    id: str
    fields: Fields
    deliveries: int = 1


@dataclass(frozen=True)
class Failed:
    """The handler failed on the entry: it stays pending (reclaimed, then dead-lettered)."""

    error: str


Outcome = Disposition | Failed
# Handles a batch; returns one outcome per entry, in the batch's order.
BatchHandler = Callable[[Sequence[Entry]], Awaitable[Sequence[Outcome]]]
Handler = Callable[[str, Fields, int], Awaitable[Disposition]]


def one_by_one(handler: Handler) -> BatchHandler:
    """A batch handler calling `handler` per entry; one entry's exception fails only it."""

    async def handle(entries: Sequence[Entry]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for entry in entries:
            try:
                outcomes.append(await handler(entry.id, entry.fields, entry.deliveries))
            except RedisError:
                raise
            except Exception as exc:  # a bad entry must not stop the others
                log.exception("entry_failed", entry_id=entry.id)
                outcomes.append(Failed(f"{exc.__class__.__name__}: {exc}"))
        return outcomes

    return handle


@dataclass(frozen=True)
class GroupConfig:
    """Where to read and how patient to be."""

    stream: str
    group: str
    consumer: str
    dead_stream: str
    # Must exceed the slowest legitimate handler, or a live handler's entry is stolen.
    claim_idle_ms: int = 30_000
    max_deliveries: int = 5
    batch: int = 100
    # A RETRY entry is tried again in-process after this long, while still ours.
    retry_after_s: float = 0.05


class StreamConsumer:
    """Runs `handler(entries)` for each batch of the group's entries."""

    def __init__(self, client: aioredis.Redis, config: GroupConfig, handler: BatchHandler) -> None:
        self._redis = client
        self.config = config
        self._handler = handler
        self._outage = Outage(f"{config.group}@{config.stream}")
        self._retry: dict[str, tuple[Entry, float, int]] = {}  # id: (entry, due, tries)
        self._next_claim = 0.0
        self._errors: dict[str, str] = {}
        # Block no longer than the reclaim period, so reclaims happen on time when idle.
        self._block_ms = max(10, min(BLOCK_MS, config.claim_idle_ms // 4))

    async def ensure_group(self) -> None:
        """Create the group (from the stream's start) unless it exists (BUSYGROUP)."""
        try:
            await self._redis.xgroup_create(
                self.config.stream, self.config.group, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self, stop: asyncio.Event) -> None:
        """Process entries until `stop` is set; unfinished entries stay pending for others."""
        backlog: str | None = "0"  # first our own pending entries (a restart after a crash)
        await self._ensure(stop)
        while not stop.is_set():
            try:
                if backlog is not None:
                    backlog = await self._read(backlog)
                    continue
                await self._reclaim()
                await self._retry_due()
                await self._read(">", block=not self._retry)
                self._outage.ended()
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    await self._outage.wait(exc, stop)
                    continue
                # Redis restarted without the group (no persistence): make it again.
                log.warning("consumer_group_missing", stream=self.config.stream)
                await self._ensure(stop)
            except RedisError as exc:
                await self._outage.wait(exc, stop)
                # A read whose reply the dropped connection lost (a failover, a restart;
                # redis-py's retry sent it again) left entries in our pending list: read
                # them now, not after claim_idle_seconds.
                backlog = "0"

    async def _ensure(self, stop: asyncio.Event) -> None:
        """Create the group, riding out an outage until it exists or `stop` is set."""
        while not stop.is_set():
            try:
                await self.ensure_group()
                return
            except RedisError as exc:
                await self._outage.wait(exc, stop)

    async def _read(self, start: str, *, block: bool = False) -> str | None:
        """Handle one batch read from `start`; returns the last id read (None: none)."""
        cfg = self.config
        reply: Any = await self._redis.xreadgroup(
            cfg.group,
            cfg.consumer,
            {cfg.stream: start},
            count=cfg.batch,
            block=self._block_ms if block else None,
        )
        entries: list[tuple[str, Fields]] = reply[0][1] if reply else []
        # An entry trimmed away while pending reads back empty: nothing to handle.
        await self._ack([entry_id for entry_id, fields in entries if not fields])
        await self._process([Entry(entry_id, fields) for entry_id, fields in entries if fields])
        return str(entries[-1][0]) if entries else None

    async def _reclaim(self) -> None:
        """Claim entries idle too long (their consumer died); bounded per call."""
        if time.monotonic() < self._next_claim:
            return
        cfg = self.config
        self._next_claim = time.monotonic() + cfg.claim_idle_ms / 4000
        cursor = "0-0"
        for _ in range(10):
            reply: Any = await self._redis.xautoclaim(
                cfg.stream, cfg.group, cfg.consumer, cfg.claim_idle_ms, cursor, count=cfg.batch
            )
            cursor, claimed = reply[0], reply[1]
            await self._handle_claimed(claimed)
            if cursor == "0-0":
                break

    async def _handle_claimed(self, claimed: list[tuple[str, Fields | None]]) -> None:
        cfg = self.config
        await self._ack([entry_id for entry_id, fields in claimed if not fields])
        batch: list[Entry] = []
        for entry_id, fields in claimed:
            if not fields:
                continue
            info = await self._redis.xpending_range(cfg.stream, cfg.group, entry_id, entry_id, 1)
            deliveries = int(info[0]["times_delivered"]) if info else 1
            if deliveries > cfg.max_deliveries:
                await self._dead_letter(entry_id, fields, deliveries)
            else:
                batch.append(Entry(entry_id, fields, deliveries))
        await self._process(batch)

    async def _retry_due(self) -> None:
        now = time.monotonic()
        due = [(entry, tries) for entry, at, tries in self._retry.values() if at <= now]
        for entry, _ in due:
            del self._retry[entry.id]
        await self._process([entry for entry, _ in due], {e.id: tries for e, tries in due})

    async def _process(self, entries: list[Entry], tries: Mapping[str, int] | None = None) -> None:
        """Run the handler on a batch; acknowledge what it finished, keep the rest pending."""
        if not entries:
            return
        try:
            outcomes = await self._handler(entries)
        except RedisError:
            raise
        except Exception as exc:  # a failing handler must not stop the consumer
            log.exception("batch_failed", stream=self.config.stream, entries=len(entries))
            outcomes = [Failed(f"{exc.__class__.__name__}: {exc}")] * len(entries)
        pairs = list(zip(entries, outcomes, strict=True))
        await self._ack([entry.id for entry, outcome in pairs if outcome is Disposition.DONE])
        for entry, outcome in pairs:
            if outcome in (Disposition.DONE, Disposition.ACKED):
                self._errors.pop(entry.id, None)
            elif isinstance(outcome, Failed):
                self._remember(entry.id, outcome.error)
            else:
                self._later(entry, (tries or {}).get(entry.id, 0))

    def _remember(self, entry_id: str, error: str) -> None:
        """Keep the error for the dead letter; stays pending, reclaimed after claim_idle_ms."""
        if len(self._errors) > MAX_REMEMBERED_ERRORS:
            self._errors.clear()  # only the error text of a later dead letter is lost
        self._errors[entry_id] = error

    def _later(self, entry: Entry, tries: int) -> None:
        """A RETRY: again in-process shortly, or (past the tries) left to the reclaim."""
        if tries < IN_PROCESS_TRIES and len(self._retry) < self.config.batch * 10:
            due = time.monotonic() + self.config.retry_after_s
            self._retry[entry.id] = (entry, due, tries + 1)
        # Otherwise it stays pending and is reclaimed after claim_idle_ms, with a higher
        # delivery count that the handler may use to give up waiting.

    async def _ack(self, entry_ids: list[str]) -> None:
        if entry_ids:
            await self._redis.xack(self.config.stream, self.config.group, *entry_ids)

    async def _dead_letter(self, entry_id: str, fields: Fields, deliveries: int) -> None:
        """Park the entry with its last error and acknowledge it, in one transaction."""
        cfg = self.config
        error = self._errors.pop(entry_id, "failed on every delivery")
        async with self._redis.pipeline(transaction=True) as pipe:
            dead: dict[Any, Any] = {
                **fields,
                "source_id": entry_id,
                "error": error,
                "deliveries": str(deliveries),
            }
            pipe.xadd(cfg.dead_stream, dead, maxlen=100_000)
            pipe.xack(cfg.stream, cfg.group, entry_id)
            await pipe.execute()
        log.error(
            "entry_dead_lettered",
            stream=cfg.stream,
            entry_id=entry_id,
            error=error,
            deliveries=deliveries,
            hint=f"inspect it in {cfg.dead_stream}",
        )

    async def pending(self) -> int:
        """Entries delivered to the group and not yet acknowledged (for the metric)."""
        try:
            info = await self._redis.xpending(self.config.stream, self.config.group)
        except ResponseError:
            return 0
        return int(info["pending"])
