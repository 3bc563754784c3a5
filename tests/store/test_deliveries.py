"""The delivery queue in Redis: idempotent admission, leased claims, atomic outcomes."""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis

from service.store import keys
from service.store.dead_letters import DeadLetters
from service.store.deliveries import GROUP, DeliveryStore, Outcome, queue_key, record_key
from service.store.scripts import Scripts

T0 = 1_800_000_000_000  # epoch ms
LEASE = 10_000
FIRING = json.dumps(
    {
        "firing_id": "fir_1",
        "rule": "r",
        "kind": "stalled",
        "job": {"id": "ftjob-1"},
        "reason": "quiet",
        "fired_at": 1.0,
    }
)


async def request(redis: aioredis.Redis) -> str:
    """A request read by the group, as the consumer hands it to admission."""
    await redis.xgroup_create(keys.DELIVERIES_STREAM, GROUP, id="0", mkstream=True)
    entry_id = str(await redis.xadd(keys.DELIVERIES_STREAM, {"r": "ops", "f": FIRING}))
    await redis.xreadgroup(GROUP, "c1", {keys.DELIVERIES_STREAM: ">"})
    return entry_id


async def test_admission_queues_once_and_acknowledges(redis: aioredis.Redis) -> None:
    store = DeliveryStore(redis, Scripts(redis))
    entry_id = await request(redis)
    assert await store.admit(entry_id, "msg_1", "ops", FIRING, T0) == "new"
    assert await store.admit(entry_id, "msg_1", "ops", FIRING, T0 + 5) == "queued"
    assert (await redis.xpending(keys.DELIVERIES_STREAM, GROUP))["pending"] == 0
    assert await redis.zrange(queue_key("ops"), 0, -1, withscores=True) == [("msg_1", T0)]


async def test_a_claim_is_leased_and_falls_due_again_when_the_lease_ends(
    redis: aioredis.Redis,
) -> None:
    store = DeliveryStore(redis, Scripts(redis))
    await store.admit(await request(redis), "msg_1", "ops", FIRING, T0)
    claimed, next_due = await store.claim("ops", 4, T0, LEASE, "t1")
    assert [(c.delivery_id, c.firing_json, c.attempts_json) for c in claimed] == [
        ("msg_1", FIRING, "[]")
    ]
    assert next_due == T0 + LEASE
    assert (await store.claim("ops", 4, T0 + LEASE - 1, LEASE, "t2"))[0] == []
    retaken, _ = await store.claim("ops", 4, T0 + LEASE, LEASE, "t2")  # the first worker died
    assert [c.delivery_id for c in retaken] == ["msg_1"]
    # The first worker's late outcome no longer counts.
    late = Outcome("delivered", '[{"at":1,"status":200,"duration":0.1}]')
    assert not await store.finish("ops", "msg_1", "t1", late)
    assert await store.state("msg_1") == "queued"


async def test_a_retry_is_rescored_with_its_attempts(redis: aioredis.Redis) -> None:
    store = DeliveryStore(redis, Scripts(redis))
    await store.admit(await request(redis), "msg_1", "ops", FIRING, T0)
    await store.claim("ops", 1, T0, LEASE, "t1")
    attempts = '[{"at":1,"status":503,"duration":0.1}]'
    assert await store.finish("ops", "msg_1", "t1", Outcome("retry", attempts, due_ms=T0 + 5000))
    assert (await store.claim("ops", 1, T0 + 4999, LEASE, "t2"))[0] == []
    [again], _ = await store.claim("ops", 1, T0 + 5000, LEASE, "t2")
    assert again.attempts_json == attempts
    assert again.since_ms == T0  # the schedule counts from the first admission


async def test_delivered_is_final_and_makes_a_duplicate_request_a_no_op(
    redis: aioredis.Redis,
) -> None:
    store = DeliveryStore(redis, Scripts(redis))
    entry_id = await request(redis)
    await store.admit(entry_id, "msg_1", "ops", FIRING, T0)
    await store.claim("ops", 1, T0, LEASE, "t1")
    assert await store.finish("ops", "msg_1", "t1", Outcome("delivered", "[]"))
    assert await redis.zcard(queue_key("ops")) == 0
    assert await redis.ttl(record_key("msg_1")) > 0  # kept for a while, then forgotten
    assert await store.admit(entry_id, "msg_1", "ops", FIRING, T0 + 1) == "delivered"
    assert await redis.zcard(queue_key("ops")) == 0


async def test_dead_is_parked_in_the_api_format_and_a_replay_starts_afresh(
    redis: aioredis.Redis,
) -> None:
    store = DeliveryStore(redis, Scripts(redis))
    await store.admit(await request(redis), "msg_1", "ops", FIRING, T0)
    await store.claim("ops", 1, T0, LEASE, "t1")
    attempts = [{"at": 1.0, "status": 410, "duration": 0.1}]
    dead = json.dumps(
        {"id": "msg_1", "receiver": "ops", "firing": json.loads(FIRING), "attempts": attempts}
    )
    assert await store.finish(
        "ops", "msg_1", "t1", Outcome("dead", json.dumps(attempts), dead_json=dead)
    )
    assert await store.dead_count() == 1
    letters = DeadLetters(redis)
    [(_, parked)] = (await letters.page()).items
    assert (parked.delivery_id, parked.receiver, parked.attempts) == ("msg_1", "ops", attempts)

    assert await letters.replay(parked)
    reply: Any = await redis.xreadgroup(GROUP, "c1", {keys.DELIVERIES_STREAM: ">"})
    [(replayed_id, fields)] = reply[0][1]
    assert await store.admit(replayed_id, "msg_1", fields["r"], fields["f"], T0 + 9) == "new"
    [fresh], _ = await store.claim("ops", 1, T0 + 9, LEASE, "t2")
    assert fresh.attempts_json == "[]"
