"""Inbound webhook ids already acted on, so a replayed signed webhook has no effect.

A signed message stays acceptable while its timestamp is within the signature tolerance
of now (both ways), so its id is remembered until that window has closed, plus a margin.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from service.store import keys

# Kept this much longer than the message can still verify: clocks of replicas differ.
MARGIN_SECONDS = 60


async def first_sighting(
    client: aioredis.Redis, msg_id: str, *, timestamp: int, tolerance: int, now: float
) -> bool:
    """True once per `msg_id` while a message signed at `timestamp` can verify (SET NX)."""
    ttl = max(1, int(timestamp + tolerance + MARGIN_SECONDS - now))
    return bool(await client.set(keys.webhook_seen(msg_id), "1", nx=True, ex=ttl))


async def forget(client: aioredis.Redis, msg_id: str) -> None:
    """Undo a sighting whose message was not acted on (its handling failed): a retry may."""
    await client.delete(keys.webhook_seen(msg_id))
