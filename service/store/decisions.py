"""Decisions of ingested jobs (SPEC §10): recorded once, read until acked, acked once.

One hash per job holds `d:<id>` (the decision), `a:<id>` (the trainer's ack) and `n:<id>`
(the receivers told of a failed ack). All
are written with HSETNX, so a redelivered action keeps the first decision and a second
ack keeps the first ack: delivered at least once, acted on once.

Long-polls wait on an in-process signal (the executor of this process wakes them at
once) and re-read Redis every RECHECK_SECONDS, which is how a decision recorded by a
worker in another process reaches them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from service.models.decision import Decision, DecisionAck
from service.store import keys
from workers.waiting import wait_event

# Kept well beyond any pause a trainer sits through before it is restarted.
DECISION_TTL_SECONDS = 30 * 24 * 3600
# A long-poll re-reads Redis this often: the delay, at worst, for a decision recorded by
# another process (an in-process one wakes the poll at once).
RECHECK_SECONDS = 1.0


@dataclass(frozen=True)
class Acked:
    """The decision after an ack, and whether this ack was the first (not a repeat)."""

    decision: Decision
    first: bool
    notify: list[str] = field(default_factory=list)  # receivers told when it failed


class UnknownDecision(LookupError):
    """The job has no decision of that id."""


class Signals:
    """In-process wake-ups of the long-polls waiting on a job."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Event]] = {}
        self.closed = False

    @contextlib.contextmanager
    def watch(self, job: str) -> Iterator[asyncio.Event]:
        woke = asyncio.Event()
        if self.closed:
            woke.set()
        self._waiting.setdefault(job, set()).add(woke)
        try:
            yield woke
        finally:
            waiters = self._waiting[job]
            waiters.discard(woke)
            if not waiters:
                del self._waiting[job]

    def waiting(self, job: str) -> int:
        """How many long-polls of this process wait on the job now."""
        return len(self._waiting.get(job, ()))

    def wake(self, job: str) -> None:
        for woke in self._waiting.get(job, ()):
            woke.set()

    def close(self) -> None:
        """Shutdown: wake every waiter now and any later one at once."""
        self.closed = True
        for waiters in self._waiting.values():
            for woke in waiters:
                woke.set()


def _decode(raw: dict[str, str]) -> list[Decision]:
    """The job's decisions, oldest first, each with its ack when there is one."""
    found: list[Decision] = []
    for name, value in raw.items():
        if not name.startswith("d:"):
            continue
        decision = Decision.model_validate_json(value)
        ack = raw.get(f"a:{decision.id}")
        if ack is not None:
            decision = decision.model_copy(update={"ack": DecisionAck.model_validate_json(ack)})
        found.append(decision)
    return sorted(found, key=lambda d: (d.created_at, d.id))


class DecisionStore:
    """Records, reads, waits for and acks the decisions of ingested jobs."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client
        self.signals = Signals()

    async def record(self, job: str, decision: Decision, notify: Sequence[str] = ()) -> Decision:
        """Store `decision` unless one of its id is there; returns the stored one.

        `notify`: the receivers told if the trainer acks it `failed` (kept apart: the
        trainer has no business reading the receivers' names)."""
        key, name = keys.decisions(job), f"d:{decision.id}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, name, decision.model_dump_json(exclude={"ack"}))
            pipe.hsetnx(key, f"n:{decision.id}", json.dumps(list(notify)))
            pipe.expire(key, DECISION_TTL_SECONDS)
            pipe.hget(key, name)
            *_, stored = await pipe.execute()
        self.signals.wake(job)
        return Decision.model_validate_json(stored)

    async def all(self, job: str) -> list[Decision]:
        raw: dict[str, str] = await self._redis.hgetall(keys.decisions(job))  # type: ignore[assignment]
        return _decode(raw)

    async def pending(self, job: str) -> list[Decision]:
        return [d for d in await self.all(job) if d.pending]

    async def pending_many(self, jobs: Sequence[str]) -> list[list[Decision]]:
        """Each job's pending decisions, in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for job in jobs:
                pipe.hgetall(keys.decisions(job))
            rows: list[dict[str, str]] = await pipe.execute()
        return [[d for d in _decode(raw) if d.pending] for raw in rows]

    async def wait(self, job: str, seconds: float) -> Decision | None:
        """The job's oldest pending decision, waiting up to `seconds` for one (None:
        none came, or the process is shutting down)."""
        deadline = time.monotonic() + seconds
        with self.signals.watch(job) as woke:  # before the first read: no wake-up is lost
            while True:
                found = await self.pending(job)
                left = deadline - time.monotonic()
                if found or left <= 0 or self.signals.closed:
                    return found[0] if found else None
                await wait_event(woke, min(left, RECHECK_SECONDS))
                woke.clear()

    async def ack(self, job: str, decision_id: str, ack: DecisionAck) -> Acked:
        """Record the trainer's ack; a repeated ack keeps (and returns) the first."""
        key = keys.decisions(job)
        raw = await self._redis.hget(key, f"d:{decision_id}")
        if raw is None:  # decisions are never removed but by their TTL: no race to lose
            raise UnknownDecision(decision_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, f"a:{decision_id}", ack.model_dump_json())
            pipe.hget(key, f"a:{decision_id}")
            pipe.hget(key, f"n:{decision_id}")
            first, stored, notify = await pipe.execute()
        kept = DecisionAck.model_validate_json(stored)
        decision = Decision.model_validate_json(raw).model_copy(update={"ack": kept})
        return Acked(decision, bool(first), json.loads(notify) if notify else [])
