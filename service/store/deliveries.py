"""Durable webhook deliveries: a queue per receiver, attempt history, idempotency records.

Layout (all under `ftwatch:`):
- `ftwatch:deliveries` (stream, group `deliveries`): requests `{r: receiver, f: firing}`,
  written by the rule worker, the action executor and dead-letter replays. Admission
  moves each into its receiver's queue and acknowledges it in one script, so the group's
  pending list only ever holds entries being admitted (no retry waits hours in it).
- `ftwatch:deliveries:queue:<receiver>` (zset): delivery ids scored by when the next
  attempt is due (epoch ms). A claimed delivery's score is its lease's end, so one whose
  worker died falls due again; retries are re-scored, not re-queued.
- `ftwatch:delivery:<id>` (hash): `state` (queued | delivered | dead), `receiver`,
  `firing` (JSON, dropped once finished), `attempts` (JSON list), `since` (ms), `lease`.
  A finished record expires after RECORD_TTL_SECONDS and meanwhile makes a duplicate
  request for the same id a no-op: a message that was delivered is not sent again.
- `ftwatch:deliveries:dead` (stream): what never succeeded, one field `d` (see
  service/store/dead_letters.py, which lists and replays them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import redis.asyncio as aioredis

from service.store import dead_letters, keys
from service.store.scripts import Scripts

GROUP = "deliveries"
# The single-Redis prefix of the receiver queues (keys.delivery_queue), for scans there.
QUEUE_PREFIX = "ftwatch:deliveries:queue:"
# Finished records are the idempotency window: far beyond any redelivery or replay race.
RECORD_TTL_SECONDS = 7 * 24 * 3600
DEAD_MAXLEN = 100_000

Admission = Literal["new", "queued", "delivered"]
Verdict = Literal["retry", "delivered", "dead"]


def queue_key(receiver: str) -> str:
    """The zset of one receiver's pending deliveries (receiver names are [A-Za-z0-9_.-])."""
    return keys.delivery_queue(receiver)


def record_key(delivery_id: str) -> str:
    return keys.delivery_record(delivery_id)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery taken for one attempt: its firing and its attempts so far, as stored."""

    delivery_id: str
    firing_json: str
    attempts_json: str
    since_ms: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to record after an attempt (`due_ms` for a retry, `dead_json` for dead)."""

    verdict: Verdict
    attempts_json: str
    due_ms: int = 0
    dead_json: str = ""


class DeliveryStore:
    """The Redis side of delivery: admit, claim, finish, park."""

    def __init__(self, client: aioredis.Redis, scripts: Scripts) -> None:
        self._redis = client
        self._scripts = scripts

    async def admit(
        self,
        entry_id: str,
        delivery_id: str,
        receiver: str,
        firing_json: str,
        now_ms: int,
        *,
        partition: int = 0,
    ) -> Admission:
        """Queue a request due now and acknowledge its entry (of `partition`'s stream),
        atomically on one Redis; on a cluster acknowledged after (admit_delivery.lua)."""
        stream = keys.deliveries_stream(partition)
        same_slot = [] if keys.clustered() else [stream]
        state = await self._scripts.admit_delivery(
            keys=[record_key(delivery_id), queue_key(receiver), *same_slot],
            args=[GROUP, entry_id, delivery_id, receiver, firing_json, now_ms],
        )
        if not same_slot:
            await self._redis.xack(stream, GROUP, entry_id)
        admission: Admission = str(state)  # type: ignore[assignment]
        return admission

    async def claim(
        self, receiver: str, limit: int, now_ms: int, lease_ms: int, token: str
    ) -> tuple[list[Claimed], int | None]:
        """Up to `limit` due deliveries, leased to `token`, and when the next one is due."""
        queue = queue_key(receiver)
        due: Any = await self._redis.zrangebyscore(queue, "-inf", now_ms, 0, limit)
        ids = [str(d) for d in due]
        reply: list[Any] = await self._scripts.claim_deliveries(
            keys=[queue, *(record_key(d) for d in ids)],
            args=[now_ms, now_ms + lease_ms, token, *ids],
        )
        head = str(reply[0])
        rows = reply[1:]
        claimed = [
            Claimed(str(rows[i]), str(rows[i + 1]), str(rows[i + 2]), int(float(rows[i + 3])))
            for i in range(0, len(rows), 4)
        ]
        return claimed, int(float(head)) if head else None

    async def finish(self, receiver: str, delivery_id: str, token: str, outcome: Outcome) -> bool:
        """Record an attempt's outcome; False when the lease was lost (then nothing changed)."""
        done = await self._scripts.finish_delivery(
            keys=[record_key(delivery_id), queue_key(receiver), keys.dead_deliveries_stream()],
            args=[
                delivery_id,
                token,
                outcome.verdict,
                outcome.attempts_json,
                outcome.due_ms,
                outcome.dead_json,
                RECORD_TTL_SECONDS,
                DEAD_MAXLEN,
                dead_letters.FIELD,
            ],
        )
        return bool(done)

    async def park(self, entry_id: str, dead_json: str, *, partition: int = 0) -> None:
        """Dead-letter a request that cannot be attempted at all, acknowledging its entry.

        One transaction on one Redis; on a cluster (two slots) parked, then acknowledged:
        a crash in between parks it twice, it is never lost."""
        fields: Any = {dead_letters.FIELD: dead_json}
        dead, stream = keys.dead_deliveries_stream(), keys.deliveries_stream(partition)
        if keys.clustered():
            await self._redis.xadd(dead, fields, maxlen=DEAD_MAXLEN, approximate=True)
            await self._redis.xack(stream, GROUP, entry_id)
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(dead, fields, maxlen=DEAD_MAXLEN, approximate=True)
            pipe.xack(stream, GROUP, entry_id)
            await pipe.execute()

    async def outcomes(self, firing_id: str) -> dict[str, str]:
        """The audit records of a firing's actions done so far, by action (pause, cancel ...)."""
        raw: dict[Any, Any] = await self._redis.hgetall(keys.firing_outcomes(firing_id))
        return {str(k): str(v) for k, v in raw.items()}

    async def state(self, delivery_id: str) -> str | None:
        """The stored state of a delivery (queued | delivered | dead), None when unknown."""
        value = await self._redis.hget(record_key(delivery_id), "state")
        return None if value is None else str(value)

    async def dead_count(self) -> int:
        """Entries in the dead-letter stream (the dead-letter gauge)."""
        return int(await self._redis.xlen(keys.dead_deliveries_stream()))
