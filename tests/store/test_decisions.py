"""The decision store on a real redis-server: recorded once, acked once, long-polls woken."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from service.models.decision import Decision, DecisionAck, decision_id
from service.store.decisions import DecisionStore, UnknownDecision
from tests.support import eventually

JOB = "ingest:run-1"


def decision(effect: str = "fir_1:pause", at: float = 10.0) -> Decision:
    return Decision(
        id=decision_id(effect),
        provider="ingest",
        job_id="run-1",
        action="cancel" if effect.endswith("cancel") else "pause",
        rule="plateau",
        reason="flat",
        firing_id=effect.partition(":")[0],
        created_at=at,
    )


async def test_a_decision_is_recorded_once_and_pending_until_acked(
    redis: aioredis.Redis,
) -> None:
    store = DecisionStore(redis)
    first = await store.record(JOB, decision())
    again = await store.record(JOB, decision(at=99.0))  # a redelivered action
    assert again == first and again.created_at == 10.0
    later = await store.record(JOB, decision("fir_2:cancel", at=20.0))
    assert [d.id for d in await store.pending(JOB)] == [first.id, later.id]
    acked = await store.ack(JOB, first.id, DecisionAck(outcome="done", checkpoint="/c", at=30))
    assert acked.first and acked.decision.ack is not None
    repeat = await store.ack(JOB, first.id, DecisionAck(outcome="failed", at=40))
    assert not repeat.first and repeat.decision.ack == acked.decision.ack
    assert [d.id for d in await store.pending(JOB)] == [later.id]
    assert [[d.id for d in found] for found in await store.pending_many([JOB, "ingest:x"])] == [
        [later.id],
        [],
    ]


async def test_an_ack_of_an_unknown_decision_is_refused_and_stores_nothing(
    redis: aioredis.Redis,
) -> None:
    store = DecisionStore(redis)
    try:
        await store.ack(JOB, "dec_nope", DecisionAck(outcome="done", at=1))
    except UnknownDecision:
        pass
    else:
        raise AssertionError("an unknown decision was acked")
    assert await redis.exists(f"ftwatch:decisions:{JOB}") == 0


async def test_concurrent_acks_are_acted_on_once(redis: aioredis.Redis) -> None:
    store = DecisionStore(redis)
    made = await store.record(JOB, decision())
    acks = [DecisionAck(outcome="done", message=str(n), at=n) for n in range(10)]
    results = await asyncio.gather(*(store.ack(JOB, made.id, a) for a in acks))
    assert sum(r.first for r in results) == 1
    assert len({r.decision.ack.message for r in results if r.decision.ack}) == 1


async def test_a_waiting_poll_is_woken_by_a_record_and_by_shutdown(redis: aioredis.Redis) -> None:
    store = DecisionStore(redis)
    poll = asyncio.create_task(store.wait(JOB, 60))
    await eventually(lambda: _value(store.signals.waiting(JOB)), message="the poll waits")
    made = await store.record(JOB, decision())
    assert await asyncio.wait_for(poll, timeout=5) == made
    other = asyncio.create_task(store.wait("ingest:run-2", 60))
    await eventually(lambda: _value(store.signals.waiting("ingest:run-2")), message="waits")
    store.signals.close()
    assert await asyncio.wait_for(other, timeout=5) is None
    assert store.signals.waiting("ingest:run-2") == 0
    assert await store.wait("ingest:run-3", 60) is None  # after shutdown: at once


async def test_a_decision_recorded_by_another_process_reaches_the_poll(
    redis: aioredis.Redis,
) -> None:
    here, elsewhere = DecisionStore(redis), DecisionStore(redis)  # no shared signals
    poll = asyncio.create_task(here.wait(JOB, 60))
    await eventually(lambda: _value(here.signals.waiting(JOB)), message="the poll waits")
    made = await elsewhere.record(JOB, decision())
    assert await asyncio.wait_for(poll, timeout=5) == made  # the periodic re-read found it


async def test_a_poll_without_a_decision_ends_empty_after_its_wait(redis: aioredis.Redis) -> None:
    assert await DecisionStore(redis).wait(JOB, 0.2) is None


async def _value(value: int) -> int:
    return value
