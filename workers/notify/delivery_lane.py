"""One receiver's lane: claims its due deliveries up to its concurrency limit, one task each.

Lanes share nothing but the Redis client and the HTTP session, so a receiver that is
slow or never answers fills only its own lane (at most `max_concurrency` attempts, each
cut at its timeout) while the others go on. A lane claims only when it has a free slot,
so a backlog waits in Redis, not in memory, and no lease runs while waiting.

A paced lane (Slack: at most one message a second per receiver) also takes the
receiver's send slot (service/store/pace.py) before it claims: one delivery at a time
across every replica, the next one only `gap` after the previous response (or after a
429's Retry-After). The queue itself is the pacing: nothing sleeps holding a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from redis.exceptions import RedisError

from service.store.deliveries import Claimed, DeliveryStore
from service.store.pace import Pace
from workers.notify.delivery import Attempt
from workers.notify.delivery_http import Sender
from workers.notify.delivery_run import AttemptRunner
from workers.outage import Outage
from workers.waiting import wait_event

log = structlog.get_logger(__name__)

TOO_MANY_REQUESTS = 429


@dataclass(frozen=True, slots=True)
class Pacing:
    """A paced lane's slot and the gap between two sends (Retry-After may lengthen it)."""

    pace: Pace
    gap_seconds: float

    def after(self, attempt: Attempt | None) -> float:
        """How long the slot stays shut after `attempt` (none made: not at all)."""
        if attempt is None:
            return 0.0
        if attempt.status == TOO_MANY_REQUESTS and attempt.retry_after is not None:
            # Every message to the receiver waits, not only the one that was refused.
            return max(self.gap_seconds, attempt.retry_after)
        return self.gap_seconds


class Lane:
    """Deliveries of one receiver, `limit` at a time in this process."""

    def __init__(
        self,
        receiver: str,
        sender: Sender,
        runner: AttemptRunner,
        store: DeliveryStore,
        *,
        limit: int,
        lease_seconds: float,
        poll_seconds: float,
        clock: Callable[[], float] = time.time,
        pacing: Pacing | None = None,
    ) -> None:
        self.receiver = receiver
        self.sender = sender
        self._runner = runner
        self._store = store
        self._pacing = pacing
        # Paced: one send at a time is the point (the slot is shared with other replicas).
        self._limit = 1 if pacing is not None else limit
        self._lease_ms = int(lease_seconds * 1000)
        self._poll = poll_seconds
        self._clock = clock
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._tokens = (f"{uuid.uuid4().hex[:12]}-{n}" for n in itertools.count())

    def wake(self) -> None:
        """Look for due deliveries now (a new one was admitted, or stop was requested)."""
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and attempt until `stop`; then let in-flight attempts finish.

        Cancelled (a crash, as far as Redis can tell): in-flight attempts are cancelled
        and their leases run out, so another worker retries them.
        """
        outage = Outage(f"deliveries:{self.receiver}")
        try:
            while not stop.is_set():
                try:
                    pause = await self._fill()
                    outage.ended()
                except RedisError as exc:
                    await outage.wait(exc, stop)
                    continue
                await wait_event(self._wake, pause)
        except asyncio.CancelledError:
            for task in self._tasks:
                task.cancel()
            raise
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _fill(self) -> float:
        """Claim what is due into the free slots; returns how long to wait for more."""
        self._wake.clear()  # before claiming: a wake-up from now on is not lost
        free = self._limit - len(self._tasks)
        if free <= 0:
            return self._poll  # a finishing attempt wakes us
        token = next(self._tokens)
        if self._pacing is not None:
            wait = await self._pacing.pace.take(token, self._lease_ms / 1000)
            if wait > 0:
                return min(wait, self._poll)
        now_ms = int(self._clock() * 1000)
        claimed, next_due = await self._store.claim(
            self.receiver, free, now_ms, self._lease_ms, token
        )
        if not claimed and self._pacing is not None:
            await self._pacing.pace.release(token, 0.0)  # nothing due: the slot is free
        for item in claimed:
            self._start(item, token)
        if next_due is None or len(self._tasks) >= self._limit:
            return self._poll
        # Sleep until the next retry falls due, but look again within the poll interval:
        # other replicas admit deliveries into this queue without waking us.
        return min(self._poll, max(next_due - now_ms, 0) / 1000)

    def _start(self, item: Claimed, token: str) -> None:
        task = asyncio.create_task(self._attempt(item, token))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()  # a slot is free

    async def _attempt(self, item: Claimed, token: str) -> None:
        attempt: Attempt | None = None
        try:
            attempt = await self._runner.run(self.receiver, self.sender, item, token)
        except RedisError as exc:
            # The outcome is not recorded: the lease runs out and the delivery is retried.
            log.error(
                "delivery_unrecorded",
                receiver=self.receiver,
                error=str(exc),
                webhook_id=item.delivery_id,
                hint="retried once its lease expires",
            )
        except Exception:  # a bug in one attempt must not stop the lane
            log.exception("delivery_crashed", receiver=self.receiver, webhook_id=item.delivery_id)
        finally:
            await self._release(token, attempt)

    async def _release(self, token: str, attempt: Attempt | None) -> None:
        """Reopen a paced lane's slot after the attempt; unreleased, its hold runs out."""
        if self._pacing is None:
            return
        with contextlib.suppress(RedisError):
            await self._pacing.pace.release(token, self._pacing.after(attempt))
