"""The rule worker's ordering and commit guarantees on a real redis-server."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from service.metrics import Metrics
from service.models.event import NormalizedEvent
from service.store import keys
from service.store.rule_state import Commit, RuleStateStore
from service.store.scripts import Scripts
from workers.rules.loading import parse_rules_text
from workers.rules.worker import RuleWorker
from workers.stream.consumer import Disposition

RULES = parse_rules_text("""
rules:
  - name: divergence
    when: {threshold: {metric: train_loss, above: 5}}
    do: [cancel]
""")
JOB = "ftjob-1"


def entry(seq: int, loss: float) -> dict[str, str]:
    event = NormalizedEvent(
        job_id=JOB,
        event_id=f"ev-{seq}",
        created_at=seq,
        type="metrics",
        status="running",
        metrics={"step": seq, "train_loss": loss},
    )
    return {"j": JOB, "s": str(seq), "e": event.model_dump_json()}


@pytest.fixture
def worker(redis: aioredis.Redis) -> RuleWorker:
    store = RuleStateStore(redis, Scripts(redis), group="rules")
    return RuleWorker(RULES, store, Metrics(), clock=lambda: 1000.0)


async def tasks(redis: aioredis.Redis) -> int:
    return int(await redis.xlen(keys.ACTION_QUEUE))


async def test_events_are_decided_in_sequence_once(
    worker: RuleWorker, redis: aioredis.Redis
) -> None:
    assert await worker.handle("1-0", entry(1, 1.0), 1) is Disposition.DONE
    assert await worker.handle("3-0", entry(3, 9.0), 1) is Disposition.RETRY  # 2 not yet done
    assert await tasks(redis) == 0
    assert await worker.handle("2-0", entry(2, 1.0), 1) is Disposition.DONE
    assert await worker.handle("3-0", entry(3, 9.0), 1) is Disposition.DONE
    assert await tasks(redis) == 1
    assert await worker.handle("3-0", entry(3, 9.0), 1) is Disposition.DONE  # redelivered
    assert await tasks(redis) == 1


async def test_a_lost_predecessor_is_given_up_after_redeliveries(
    worker: RuleWorker, redis: aioredis.Redis
) -> None:
    await worker.handle("1-0", entry(1, 1.0), 1)
    assert await worker.handle("5-0", entry(5, 9.0), 1) is Disposition.RETRY
    assert await worker.handle("5-0", entry(5, 9.0), 2) is Disposition.DONE
    assert await tasks(redis) == 1


async def test_an_unreadable_event_is_parked_and_the_job_goes_on(
    worker: RuleWorker, redis: aioredis.Redis
) -> None:
    bad = {"j": JOB, "s": "1", "e": '{"job_id": "ftjob-1"}'}
    assert await worker.handle("1-0", bad, 1) is Disposition.DONE
    ((_, dead),) = await redis.xrange(keys.DEAD_EVENTS_STREAM)
    assert "event_id" in dead["error"]
    assert await worker.handle("2-0", entry(2, 9.0), 1) is Disposition.DONE
    assert await tasks(redis) == 1


async def test_a_concurrent_commit_wins_and_the_loser_retries(
    worker: RuleWorker, redis: aioredis.Redis
) -> None:
    await worker.handle("1-0", entry(1, 1.0), 1)
    store = RuleStateStore(redis, Scripts(redis), group="rules")
    stale = await store.load(JOB)
    await redis.hincrby(keys.rule_state(JOB), "_v", 1)  # another worker committed meanwhile
    assert not await store.commit(JOB, stale.version, Commit(seq=2))
