"""The stores on a real three-master cluster: each script stays in one slot (else redis-py
refuses it before sending, or the node answers CROSSSLOT), and they behave as on one Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from service.models.event import NormalizedEvent
from service.models.firing import Firing, JobFacts
from service.models.ident import job_key
from service.models.job import JobSnapshot
from service.store import keys
from service.store.audit import AuditLog
from service.store.budget import RequestBudget
from service.store.connection import connect_redis
from service.store.dead_letters import DeadLetters
from service.store.deliveries import GROUP, DeliveryStore, Outcome
from service.store.jobs import JobStore
from service.store.rule_state import Commit, RuleStateStore
from service.store.schedule import Schedule
from service.store.scripts import Scripts
from tests.ha import cluster_set
from tests.support import eventually, xrange
from workers.stream.consumer import Disposition, Fields, GroupConfig, StreamConsumer, one_by_one

# Enough jobs that every partition gets some (crc32 spreads 64 keys over 16 partitions).
JOBS = [job_key("openai", f"ftjob-{n}") for n in range(64)]
T0 = 1_800_000_000_000
PAST = 1_000  # epoch ms: due long ago


def node_of(client: aioredis.Redis, key: str) -> int:
    node = cast(RedisCluster, client).get_node_from_key(key)
    assert node is not None
    return int(node.port)


async def test_jobs_spread_over_partitions_and_nodes(cluster_redis: aioredis.Redis) -> None:
    assert len({keys.partition(j) for j in JOBS}) == keys.CLUSTER_PARTITIONS
    assert len({node_of(cluster_redis, keys.job(j)) for j in JOBS}) == 3
    for job in JOBS[:8]:  # a job's keys and its partition's streams share a slot
        slot = cast(RedisCluster, cluster_redis).keyslot
        p = keys.partition(job)
        together = [keys.job(job), keys.seen(job), keys.lease(job), keys.rule_state(job)]
        together += [keys.events_stream(p), keys.schedule(p), keys.action_queue(p)]
        assert len({slot(k) for k in together}) == 1


async def test_watched_jobs_are_claimed_once_and_released_across_partitions(
    cluster_redis: aioredis.Redis,
) -> None:
    scripts = Scripts(cluster_redis)
    one, other = Schedule(cluster_redis, scripts, "r1"), Schedule(cluster_redis, scripts, "r2")
    assert await one.watch(JOBS, due_ms=PAST) == len(JOBS)
    assert await one.watched() == len(JOBS)
    assert sorted(await one.watched_ids()) == sorted(JOBS)
    assert await one.next_due_ms() == PAST
    claimed, at = await one.claim(limit=1000, lease_seconds=30)
    assert sorted(claimed) == sorted(JOBS)
    assert (await other.claim(limit=1000, lease_seconds=30))[0] == []  # leases held
    for job in claimed:
        assert await one.release(job, PAST, at)
    assert not await other.release(JOBS[0], PAST, at)  # not its lease
    assert sorted((await other.claim(limit=1000, lease_seconds=30))[0]) == sorted(JOBS)


async def test_a_small_claim_limit_serves_every_partition_in_turn(
    cluster_redis: aioredis.Redis,
) -> None:
    schedule = Schedule(cluster_redis, Scripts(cluster_redis), "r1")
    await schedule.watch(JOBS, due_ms=PAST)
    seen: set[str] = set()
    for _ in range(len(JOBS)):  # bounded: each claim takes at least one due job
        claimed, _ = await schedule.claim(limit=5, lease_seconds=30)
        assert 0 < len(claimed) <= 5
        seen |= set(claimed)
        if len(seen) == len(JOBS):
            break
    assert seen == set(JOBS)


def event(job: str, n: int) -> NormalizedEvent:
    return NormalizedEvent(
        job_id=job.partition(":")[2],
        event_id=f"ev-{n}",
        created_at=1.0 + n,
        type="metrics",
        metrics={"step": n, "train_loss": 1.0},
    )


async def test_events_go_to_their_jobs_partition_exactly_once(
    cluster_redis: aioredis.Redis,
) -> None:
    store = JobStore(cluster_redis, Scripts(cluster_redis), maxlen=1000, window=100)
    for job in JOBS[:12]:
        snapshot = JobSnapshot(job_id=job.partition(":")[2], status="running")
        events = [event(job, n) for n in range(3)]
        assert len(await store.append(snapshot, events, cursor="ev-2")) == 3
        assert await store.append(snapshot, events, cursor="ev-2") == []  # idempotent
    for job in JOBS[:12]:
        entries = await xrange(cluster_redis, keys.events_stream(keys.partition(job)))
        mine = [f for _, f in entries if f["j"] == job]
        assert [f["s"] for f in mine] == ["1", "2", "3"]
    assert await store.all_job_keys() == sorted(JOBS[:12])


def firing(job: str, n: int) -> str:
    provider, _, job_id = job.partition(":")
    facts = JobFacts(id=job_id, provider=provider)
    return Firing(
        firing_id=f"fir-{n}", rule="r", kind="status", job=facts, reason="x", fired_at=float(n)
    ).model_dump_json()


async def test_a_commit_of_many_partitions_writes_each_and_the_audit_pages_over_all(
    cluster_redis: aioredis.Redis,
) -> None:
    store = RuleStateStore(cluster_redis, Scripts(cluster_redis), group="rules")
    jobs = JOBS[:20]
    commits = [
        (j, "0", Commit(seq=1, states={"r": "{}"}, firings=[firing(j, n)]))
        for n, j in enumerate(jobs)
    ]
    versions = await store.commit_many(commits)
    assert all(versions)
    assert await store.commit_many(commits) == [None] * len(jobs)  # versions moved on
    loaded = await store.load_many(jobs, versions)
    assert loaded == [None] * len(jobs)  # every caller's copy is current
    audit = AuditLog(cluster_redis)
    pages: list[str] = []
    before: str | None = None
    for _ in range(10):  # bounded: 20 firings, 6 a page
        page = await audit.page(before=before, limit=6)
        pages += [f.firing_id for _, f in page.items]
        before = page.next_cursor
        if before is None:
            break
    assert sorted(pages) == sorted(f"fir-{n}" for n in range(len(jobs)))
    assert len(pages) == len(set(pages))


async def test_the_request_budget_and_a_lease_are_shared_as_on_one_redis(
    cluster_redis: aioredis.Redis,
) -> None:
    scripts = Scripts(cluster_redis)
    budget = RequestBudget(scripts, 1.0, burst=2)
    waits = [await budget.reserve() for _ in range(3)]
    assert waits[:2] == [0.0, 0.0]
    assert waits[2] > 0.5  # the third request waits for a token
    one, other = Schedule(cluster_redis, scripts, "r1"), Schedule(cluster_redis, scripts, "r2")
    assert await one.hold_discovery("openai", 30)
    assert not await other.hold_discovery("openai", 30)
    assert await one.release_discovery("openai")
    assert await other.hold_discovery("openai", 30)


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


async def test_a_delivery_is_admitted_claimed_finished_and_replayed(
    cluster_redis: aioredis.Redis,
) -> None:
    store, p = DeliveryStore(cluster_redis, Scripts(cluster_redis)), 3
    stream = keys.deliveries_stream(p)
    await cluster_redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    entry_id = str(await cluster_redis.xadd(stream, {"r": "ops", "f": FIRING}))
    await cluster_redis.xreadgroup(GROUP, "c1", {stream: ">"})
    assert await store.admit(entry_id, "msg_1", "ops", FIRING, T0, partition=p) == "new"
    assert await store.admit(entry_id, "msg_1", "ops", FIRING, T0, partition=p) == "queued"
    assert (await cluster_redis.xpending(stream, GROUP))["pending"] == 0
    claimed, _ = await store.claim("ops", 4, T0, 10_000, "t1")
    assert [c.delivery_id for c in claimed] == ["msg_1"]
    dead = json.dumps(
        {"id": "msg_1", "receiver": "ops", "firing": json.loads(FIRING), "attempts": []}
    )
    assert await store.finish("ops", "msg_1", "t1", Outcome("dead", "[]", dead_json=dead))
    letters = DeadLetters(cluster_redis)
    page = await letters.page()
    [(_, parked)] = page.items
    assert await letters.replay(parked) is not None
    assert await letters.replay(parked) is None  # once
    replayed = await xrange(
        cluster_redis, keys.deliveries_stream(keys.partition(parked.firing.job.key))
    )
    assert [f["r"] for i, f in replayed if i != entry_id] == ["ops"]


@contextlib.asynccontextmanager
async def running(consumer: StreamConsumer) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def test_a_partitions_consumer_group_reads_reclaims_and_dead_letters(
    cluster_redis: aioredis.Redis,
) -> None:
    seen: list[str] = []

    async def handle(entry_id: str, fields: Fields, deliveries: int) -> Disposition:
        seen.append(fields["n"])
        if fields["n"] == "poison":
            raise ValueError("cannot handle it")
        return Disposition.DONE

    p = 5
    config = GroupConfig(
        keys.events_stream(p),
        "rules",
        "c1",
        keys.dead_events_stream(p),
        claim_idle_ms=20,
        max_deliveries=2,
    )
    consumer = StreamConsumer(cluster_redis, config, one_by_one(handle))
    for n in ("1", "poison", "2"):
        await cluster_redis.xadd(keys.events_stream(p), {"n": n})

    async def dead_lettered() -> list[Any]:
        return await xrange(cluster_redis, keys.dead_events_stream(p))

    async with running(consumer):
        await eventually(dead_lettered, message="poison entry not dead-lettered")
    [(_, fields)] = await dead_lettered()
    assert fields["n"] == "poison" and "cannot handle it" in fields["error"]
    assert seen.count("1") == 1 and seen.count("2") == 1
    assert await consumer.pending() == 0


async def test_a_password_protected_cluster_is_reached_through_its_url(
    tmp_path: Path,
) -> None:
    with cluster_set(tmp_path / "auth", password="s3cret") as nodes:
        await nodes.ready()
        assert nodes.url.startswith("redis+cluster://:s3cret@")
        client = connect_redis(nodes.url)
        try:
            schedule = Schedule(client, Scripts(client), "r1")
            assert await schedule.watch(JOBS, due_ms=PAST) == len(JOBS)
            assert sorted((await schedule.claim(1000, 30))[0]) == sorted(JOBS)
        finally:
            await client.aclose()
            keys.use_partitions(1)
        denied = connect_redis(nodes.url.replace("s3cret", "wrong"), retries=0)
        try:
            with pytest.raises(RedisError):
                await denied.ping()
        finally:
            await denied.aclose()
            keys.use_partitions(1)


async def test_a_cluster_with_every_node_down_is_an_outage_and_is_used_again_after(
    tmp_path: Path,
) -> None:
    """Commands, scripts, pipelines and transactions raise ConnectionError (a RedisError:
    the loops back off) while no node answers, not redis-py's RedisClusterException."""
    with cluster_set(tmp_path / "down") as nodes:
        await nodes.ready()
        client = connect_redis(nodes.url)
        try:
            job = JOBS[0]
            await client.hset(keys.job(job), "cursor", "e1")
            for node in nodes.nodes:
                node.kill()
            for _ in range(2):  # the second round runs after a refresh that reached no node
                for call in _every_kind_of_call(client, job):
                    with pytest.raises(RedisConnectionError):
                        await call()
            for node in nodes.nodes:
                node.start()  # same port, nodes.conf and AOF: the cluster as it was
            await nodes.ready()
            got = await eventually(lambda: client.hget(keys.job(job), "cursor"), timeout=20)
            assert got == "e1"
        finally:
            await client.aclose()
            keys.use_partitions(1)


def _every_kind_of_call(client: aioredis.Redis, job: str) -> list[Callable[[], Awaitable[Any]]]:
    """One of each way the stores reach Redis, on `job`'s slot."""

    async def pipelined(transaction: bool) -> Any:
        async with client.pipeline(transaction=transaction) as pipe:
            pipe.hget(keys.job(job), "cursor")
            pipe.exists(keys.seen(job))
            return await pipe.execute()

    schedule = Schedule(client, Scripts(client), "r1")
    return [
        lambda: client.hget(keys.job(job), "cursor"),
        lambda: schedule.watch([job], due_ms=PAST),
        lambda: pipelined(transaction=False),
        lambda: pipelined(transaction=True),
    ]
