"""Idempotency records of actions, the action queue and the delayed-action schedule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from service.models.action import ActionTask
from service.models.audit import ActionRecord
from service.models.firing import Firing
from service.store import keys
from service.store.audit import AuditLog
from service.store.scripts import Scripts

# How long an action's idempotency record is kept: far beyond any redelivery.
EFFECT_TTL_SECONDS = 7 * 24 * 3600
_STARTED = "started:"
# A notice waits seconds for these; a day covers any retry of its delivery.
OUTCOME_TTL_SECONDS = 24 * 3600

# Claim an effect (`started:<n>`, n numbering the job's claimed actions), or return what
# an earlier try recorded with the job's latest number, in one step.
# KEYS: 1 effect, 2 the job's action counter.  ARGV: 1 TTL s.  Returns {previous or '', n}.
_CLAIM = """
local previous = redis.call('GET', KEYS[1])
if previous then
  return {previous, tonumber(redis.call('GET', KEYS[2]) or '0')}
end
local n = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('SET', KEYS[1], 'started:' .. n, 'EX', ARGV[1])
return {'', n}
"""


@dataclass(frozen=True)
class Claim:
    """What claiming an effect found: nothing (ours to do), or an earlier try's record."""

    previous: str | None  # None, `started[:<n>]` (a try that never finished) or `done:<outcome>`
    superseded: bool = False  # another action on the job was claimed after that try

    @property
    def done(self) -> str | None:
        """The recorded outcome when an earlier try finished."""
        if self.previous is not None and self.previous.startswith("done:"):
            return self.previous[5:]
        return None


class Effects:
    """Claims and records the effect of one (firing, action)."""

    def __init__(self, client: aioredis.Redis, scripts: Scripts) -> None:
        self._redis = client
        self._scripts = scripts
        self._claim = client.register_script(_CLAIM)
        self._audit = AuditLog(client)

    async def claim(self, effect_key: str, job_id: str) -> Claim:
        """Mark the effect started, or say what an earlier try of it recorded.

        An unfinished earlier try is `superseded` when another action on the job was
        claimed after it: whether or not that try reached the upstream, a later decision
        about the job came after it, and applying it now would undo that one.
        """
        reply: Any = await self._claim(
            keys=[keys.effect(effect_key, job_id), keys.job_actions(job_id)],
            args=[EFFECT_TTL_SECONDS],
        )
        previous, latest = str(reply[0]), int(reply[1])
        if not previous:
            return Claim(None)
        number = previous.removeprefix(_STARTED)
        later = previous.startswith(_STARTED) and number.isdigit() and latest > int(number)
        return Claim(previous, superseded=later)

    async def finish(self, effect_key: str, job_id: str, outcome: str) -> None:
        key = keys.effect(effect_key, job_id)
        await self._redis.set(key, f"done:{outcome}", ex=EFFECT_TTL_SECONDS)

    async def enqueue(self, task: ActionTask) -> None:
        queue = keys.action_queue(keys.partition(task.firing.job.key))
        await self._redis.xadd(queue, {"t": task.model_dump_json()})

    async def delay(self, task: ActionTask, due_ms: int) -> None:
        """Schedule `task` for `due_ms` (epoch ms); the same task again only moves its time."""
        delayed = keys.delayed(keys.partition(task.firing.job.key))
        await self._redis.zadd(delayed, {task.model_dump_json(): due_ms})

    async def move_due(self, now_ms: int, limit: int = 100) -> int:
        """Move delayed actions whose time has come onto the queue; returns how many."""
        moved = 0
        for p in keys.partitions():  # a partition's delayed set feeds its own queue: one slot
            moved += int(
                await self._scripts.move_due(
                    keys=[keys.delayed(p), keys.action_queue(p)], args=[now_ms, limit]
                )
            )
        return moved

    async def record(self, firing: Firing) -> None:
        """Append a firing to the audit log `ftwatch:actions` (a manual action's)."""
        await self._audit.record(firing)

    async def record_action(self, record: ActionRecord) -> None:
        """Append an action's outcome to the audit log, after its firing."""
        await self._audit.record_action(record)

    async def note_outcome(self, firing_id: str, action: str, record_json: str) -> None:
        """Keep an action's audit record where the firing's notices look for it."""
        key = keys.firing_outcomes(firing_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, action, record_json)
            pipe.expire(key, OUTCOME_TTL_SECONDS)
            await pipe.execute()

    async def deliver(self, job_id: str, receiver: str, firing_json: str) -> None:
        stream = keys.deliveries_stream(keys.partition(job_id))
        await self._redis.xadd(stream, {"r": receiver, "f": firing_json})
