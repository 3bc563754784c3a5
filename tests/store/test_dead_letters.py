"""Parked deliveries: read them, replay one back onto the delivery stream exactly once."""

from __future__ import annotations

import json

import redis.asyncio as aioredis

from service.models.firing import Firing, JobFacts
from service.store import keys
from service.store.dead_letters import DeadLetters
from tests.support import xrange


async def park(redis: aioredis.Redis, payload: object) -> str:
    return str(await redis.xadd(keys.DEAD_DELIVERIES_STREAM, {"d": json.dumps(payload)}))


def dead(receiver: str = "ops") -> dict[str, object]:
    firing = Firing(
        firing_id="f1",
        rule="r",
        kind="status",
        job=JobFacts(id="ftjob-a"),
        reason="done",
        fired_at=1.0,
    )
    return {
        "id": "msg_1",
        "receiver": receiver,
        "firing": firing.model_dump(mode="json"),
        "attempts": [{"status": 500}],
    }


async def test_get_and_replay_once(redis: aioredis.Redis) -> None:
    letters = DeadLetters(redis)
    entry_id = await park(redis, dead())
    found = await letters.get(entry_id)
    assert found is not None
    assert (found.delivery_id, found.receiver, found.attempts) == (
        "msg_1",
        "ops",
        [{"status": 500}],
    )
    queued = await letters.replay(found)
    assert queued is not None
    assert await letters.replay(found) is None  # the second replay finds nothing to move
    [(queued_id, fields)] = await xrange(redis, keys.DELIVERIES_STREAM)
    assert queued_id == queued
    assert fields["r"] == "ops"
    assert json.loads(fields["f"])["firing_id"] == "f1"
    assert await letters.get(entry_id) is None


async def test_unreadable_entries_are_skipped(redis: aioredis.Redis) -> None:
    letters = DeadLetters(redis)
    bad = await park(redis, {"id": "x"})  # no receiver, no firing
    good = await park(redis, dead("pager"))
    page = await letters.page()
    assert [d.entry_id for _, d in page.items] == [good]
    assert await letters.get(bad) is None
    assert await letters.get("not-an-id") is None
