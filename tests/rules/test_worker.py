"""The rule worker's ordering and commit guarantees on a real redis-server."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from service.metrics import Metrics
from service.models.event import NormalizedEvent
from service.store import keys
from service.store.rule_state import Commit, RuleStateStore
from service.store.scripts import Scripts
from tests.support import entries, xrange
from workers.rules.loading import parse_rules_text
from workers.rules.worker import RuleWorker
from workers.stream.consumer import Disposition, Entry, Outcome

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


async def handle(
    worker: RuleWorker, entry_id: str, fields: dict[str, str], deliveries: int = 1
) -> Outcome:
    """One entry as a batch of its own."""
    (outcome,) = await worker.handle_batch([Entry(entry_id, fields, deliveries)])
    return outcome


async def tasks(redis: aioredis.Redis) -> int:
    return int(await redis.xlen(keys.ACTION_QUEUE))


async def test_events_are_decided_in_sequence_once(
    worker: RuleWorker, redis: aioredis.Redis
) -> None:
    assert await handle(worker, "1-0", entry(1, 1.0), 1) is Disposition.ACKED
    assert await handle(worker, "3-0", entry(3, 9.0), 1) is Disposition.RETRY  # 2 not yet done
    assert await tasks(redis) == 0
    assert await handle(worker, "2-0", entry(2, 1.0), 1) is Disposition.ACKED
    assert await handle(worker, "3-0", entry(3, 9.0), 1) is Disposition.ACKED
    assert await tasks(redis) == 1
    assert await handle(worker, "3-0", entry(3, 9.0), 1) is Disposition.DONE  # redelivered
    assert await tasks(redis) == 1


async def test_a_lost_predecessor_is_given_up_after_redeliveries(
    worker: RuleWorker, redis: aioredis.Redis
) -> None:
    await handle(worker, "1-0", entry(1, 1.0), 1)
    assert await handle(worker, "5-0", entry(5, 9.0), 1) is Disposition.RETRY
    assert await handle(worker, "5-0", entry(5, 9.0), 2) is Disposition.ACKED
    assert await tasks(redis) == 1


async def test_an_unreadable_event_is_parked_and_the_job_goes_on(
    worker: RuleWorker, redis: aioredis.Redis
) -> None:
    bad = {"j": JOB, "s": "1", "e": '{"job_id": "ftjob-1"}'}
    assert await handle(worker, "1-0", bad, 1) is Disposition.ACKED
    ((_, dead),) = await xrange(redis, keys.DEAD_EVENTS_STREAM)
    assert "event_id" in dead["error"]
    assert await handle(worker, "2-0", entry(2, 9.0), 1) is Disposition.ACKED
    assert await tasks(redis) == 1


async def test_a_concurrent_commit_wins_and_the_loser_retries(
    worker: RuleWorker, redis: aioredis.Redis
) -> None:
    await handle(worker, "1-0", entry(1, 1.0), 1)
    store = RuleStateStore(redis, Scripts(redis), group="rules")
    stale = await store.load(f"openai:{JOB}")
    # Another worker committed meanwhile.
    await redis.hset(keys.rule_state(f"openai:{JOB}"), "_v", "2.other")
    assert await store.commit(f"openai:{JOB}", stale.version, Commit(seq=2)) is None


async def test_a_batch_decides_each_jobs_events_in_order_with_one_commit(
    worker: RuleWorker, redis: aioredis.Redis
) -> None:
    other = {**entry(1, 9.0), "j": "ftjob-2", "e": entry(1, 9.0)["e"].replace(JOB, "ftjob-2")}
    batch = [
        Entry("3-0", entry(3, 9.0)),  # read before its predecessors: still decided last
        Entry("1-0", entry(1, 1.0)),
        Entry("9-0", other),
        Entry("2-0", entry(2, 1.0)),
    ]
    outcomes = await worker.handle_batch(batch)
    assert outcomes == [Disposition.ACKED] * 4
    assert await tasks(redis) == 2  # one cancel per job: the loss crossed 5 once for each
    stored = await RuleStateStore(redis, Scripts(redis), group="rules").load(f"openai:{JOB}")
    assert stored.last_seq == 3
    assert stored.version.startswith("1.")  # three events, one commit


async def test_a_batch_waits_at_a_gap_and_decides_what_precedes_it(
    worker: RuleWorker, redis: aioredis.Redis
) -> None:
    batch = [
        Entry("1-0", entry(1, 1.0)),
        Entry("3-0", entry(3, 9.0)),  # 2 is still in flight
        Entry("4-0", entry(4, 9.0), deliveries=5),  # however patient, it must not overtake 3
    ]
    outcomes = await worker.handle_batch(batch)
    assert outcomes == [Disposition.ACKED, Disposition.RETRY, Disposition.RETRY]
    assert await tasks(redis) == 0
    outcomes = await worker.handle_batch([Entry("2-0", entry(2, 1.0)), *batch[1:]])
    assert outcomes == [Disposition.ACKED] * 3
    assert await tasks(redis) == 1


async def test_a_batch_acknowledges_what_it_committed(
    worker: RuleWorker, redis: aioredis.Redis
) -> None:
    await redis.xgroup_create(keys.EVENTS_STREAM, "rules", id="0", mkstream=True)
    for seq in (1, 2, 3):
        await redis.xadd(keys.EVENTS_STREAM, entry(seq, 1.0))  # type: ignore[arg-type]
    reply = await redis.xreadgroup("rules", "w1", {keys.EVENTS_STREAM: ">"}, count=10)
    assert isinstance(reply, list), reply  # RESP2: one [stream, entries] pair per stream
    [(_, rows)] = reply
    read = [Entry(entry_id, fields) for entry_id, fields in entries(rows)]
    assert await worker.handle_batch(read) == [Disposition.ACKED] * 3
    assert (await redis.xpending(keys.EVENTS_STREAM, "rules"))["pending"] == 0


async def test_one_stale_commit_does_not_hold_back_another_jobs(redis: aioredis.Redis) -> None:
    store = RuleStateStore(redis, Scripts(redis), group="rules")
    await redis.hset(
        keys.rule_state(f"openai:{JOB}"), "_v", "4"
    )  # another worker committed meanwhile
    done = await store.commit_many([(JOB, "3", Commit(seq=2)), ("ftjob-2", "0", Commit(seq=1))])
    assert done[0] is None
    assert done[1] == (await store.load("ftjob-2")).version
    assert (await store.load(JOB)).last_seq is None
    assert (await store.load("ftjob-2")).last_seq == 1


async def test_a_worker_decides_on_what_another_committed_since_its_own_commit(
    redis: aioredis.Redis,
) -> None:
    first, second = (
        RuleWorker(RULES, RuleStateStore(redis, Scripts(redis), group="rules"), Metrics())
        for _ in range(2)
    )
    assert await handle(first, "1-0", entry(1, 1.0)) is Disposition.ACKED
    assert await handle(second, "2-0", entry(2, 9.0)) is Disposition.ACKED  # fires
    # On its own held state (event 1 only) the first worker's commit would lose the
    # version race and retry: it reads what the second committed instead.
    assert await handle(first, "3-0", entry(3, 9.0)) is Disposition.ACKED
    assert await tasks(redis) == 1  # the rule stays fired: one cancel


async def test_after_redis_lost_the_state_a_worker_starts_from_what_is_stored(
    redis: aioredis.Redis,
) -> None:
    first, second = (
        RuleWorker(RULES, RuleStateStore(redis, Scripts(redis), group="rules"), Metrics())
        for _ in range(2)
    )
    both = [Entry("1-0", entry(1, 1.0)), Entry("2-0", entry(2, 9.0))]
    assert await first.handle_batch(both) == [Disposition.ACKED] * 2  # one commit
    await redis.flushdb()  # a restart without persistence
    assert await handle(second, "1-0", entry(1, 1.0)) is Disposition.ACKED  # one commit too
    # The first worker holds event 2 as decided; Redis does not: decided again, not skipped.
    assert await handle(first, "2-0", entry(2, 9.0)) is Disposition.ACKED
    assert await tasks(redis) == 1


async def test_a_status_event_read_from_the_stream_resolves_the_open_incident(
    redis: aioredis.Redis,
) -> None:
    rules = parse_rules_text("""
rules:
  - name: divergence
    when: {threshold: {metric: train_loss, above: 5}}
    do: [pause, {notify: log}]
""")
    worker = RuleWorker(rules, RuleStateStore(redis, Scripts(redis), group="rules"), Metrics())
    resumed = NormalizedEvent(
        job_id=JOB,
        event_id="ev-status",
        created_at=2,
        type="status",
        status="running",
        data={"from": "paused", "to": "running"},  # only status events are read with data
    )
    status_entry = {"j": JOB, "s": "2", "e": resumed.model_dump_json()}
    batch = [Entry("1-0", entry(1, 9.0)), Entry("2-0", status_entry)]
    assert await worker.handle_batch(batch) == [Disposition.ACKED] * 2
    notices = [fields["f"] for _, fields in await xrange(redis, keys.DELIVERIES_STREAM)]
    assert len(notices) == 2  # the firing, then its resolve notice
    assert '"resolved":true' in notices[1]
    assert "job resumed" in notices[1]


async def test_a_condition_that_clears_resolves_the_open_incident(
    redis: aioredis.Redis,
) -> None:
    rules = parse_rules_text("""
rules:
  - name: divergence
    severity: critical
    when: {threshold: {metric: train_loss, above: 5}}
    do: [{notify: log}]
""")
    worker = RuleWorker(rules, RuleStateStore(redis, Scripts(redis), group="rules"), Metrics())
    batch = [Entry("1-0", entry(1, 9.0)), Entry("2-0", entry(2, 1.0)), Entry("3-0", entry(3, 1.0))]
    assert await worker.handle_batch(batch) == [Disposition.ACKED] * 3
    notices = [fields["f"] for _, fields in await xrange(redis, keys.DELIVERIES_STREAM)]
    assert len(notices) == 2  # the firing, then one resolve when the loss fell back
    assert '"resolved":true' in notices[1] and "condition cleared" in notices[1]
    assert all('"severity":"critical"' in notice for notice in notices)
