"""Idempotency records of actions, the action queue and the delayed-action schedule."""

from __future__ import annotations

import redis.asyncio as aioredis

from service.models.action import ActionTask
from service.store import keys
from service.store.scripts import Scripts

# How long an action's idempotency record is kept: far beyond any redelivery.
EFFECT_TTL_SECONDS = 7 * 24 * 3600


class Effects:
    """Claims and records the effect of one (firing, action)."""

    def __init__(self, client: aioredis.Redis, scripts: Scripts) -> None:
        self._redis = client
        self._scripts = scripts

    async def claim(self, effect_key: str) -> str | None:
        """Mark the effect started. None: ours to do; else what an earlier try recorded."""
        key = keys.effect(effect_key)
        if await self._redis.set(key, "started", nx=True, ex=EFFECT_TTL_SECONDS):
            return None
        previous = await self._redis.get(key)
        return str(previous) if previous is not None else "started"

    async def finish(self, effect_key: str, outcome: str) -> None:
        await self._redis.set(keys.effect(effect_key), f"done:{outcome}", ex=EFFECT_TTL_SECONDS)

    async def enqueue(self, task: ActionTask) -> None:
        await self._redis.xadd(keys.ACTION_QUEUE, {"t": task.model_dump_json()})

    async def move_due(self, now_ms: int, limit: int = 100) -> int:
        """Move delayed actions whose time has come onto the queue; returns how many."""
        moved = await self._scripts.move_due(
            keys=[keys.DELAYED, keys.ACTION_QUEUE], args=[now_ms, limit]
        )
        return int(moved)

    async def record(self, firing_json: str) -> None:
        """Append an audit record (a Firing) to `ftwatch:actions`."""
        await self._redis.xadd(
            keys.ACTIONS_STREAM, {"f": firing_json}, maxlen=100_000, approximate=True
        )

    async def deliver(self, receiver: str, firing_json: str) -> None:
        await self._redis.xadd(keys.DELIVERIES_STREAM, {"r": receiver, "f": firing_json})
