"""Poll schedule and leases shared by poller replicas (real redis-server)."""

from __future__ import annotations

import redis.asyncio as aioredis

from service.store import keys
from service.store.schedule import Schedule, now_ms
from service.store.scripts import Scripts


def replica(redis: aioredis.Redis, name: str) -> Schedule:
    return Schedule(redis, Scripts(redis), name)


async def test_a_due_job_is_claimed_by_one_replica_only(redis: aioredis.Redis) -> None:
    a, b = replica(redis, "a"), replica(redis, "b")
    assert await a.watch(["j1", "j2"]) == 2
    assert await a.watch(["j1"]) == 0  # already watched: schedule kept
    got_a, _ = await a.claim(10, lease_seconds=5)
    got_b, _ = await b.claim(10, lease_seconds=5)
    assert sorted(got_a) == ["j1", "j2"] and got_b == []


async def test_release_schedules_the_next_poll_and_frees_the_lease(redis: aioredis.Redis) -> None:
    a = replica(redis, "a")
    await a.watch(["j1"])
    (job,), at = await a.claim(1, lease_seconds=5)
    assert await a.release(job, now_ms() + 60_000, at)
    assert await redis.get(keys.lease(job)) is None
    assert (await a.claim(1, lease_seconds=5))[0] == []


async def test_a_dead_replicas_job_is_taken_over_after_the_lease(redis: aioredis.Redis) -> None:
    a, b = replica(redis, "a"), replica(redis, "b")
    await a.watch(["j1"])
    await a.claim(1, lease_seconds=0.05)  # then "a" dies without releasing
    await redis.delete(keys.lease("j1"))  # what the lease expiry does, without a clock
    await redis.zadd(keys.SCHEDULE, {"j1": 0})
    got, at = await b.claim(1, lease_seconds=5)
    assert got == ["j1"]
    assert not await a.release("j1", now_ms(), at)  # "a" came back: its release is refused


async def test_terminal_jobs_stay_dropped(redis: aioredis.Redis) -> None:
    a = replica(redis, "a")
    await a.watch(["j1"])
    (job,), at = await a.claim(1, lease_seconds=5)
    await a.release(job, None, at)
    assert await a.watched() == 0
    assert await a.watch(["j1"]) == 0 and await a.nudge(["j1"]) == 0
    assert await a.watched() == 0


async def test_a_nudge_during_a_poll_survives_the_release(redis: aioredis.Redis) -> None:
    a = replica(redis, "a")
    await a.watch(["j1"])
    (job,), at = await a.claim(1, lease_seconds=5)
    assert await a.nudge(["j1"]) == 1  # a webhook arrives while "a" polls
    await a.release(job, now_ms() + 60_000, at)
    assert (await a.claim(1, lease_seconds=5))[0] == ["j1"]


async def test_discovery_lease_has_one_holder(redis: aioredis.Redis) -> None:
    a, b = replica(redis, "a"), replica(redis, "b")
    assert await a.hold_discovery("openai", 5)
    assert not await b.hold_discovery("openai", 5)
    assert await a.hold_discovery("openai", 5)
    assert await b.hold_discovery("azure-east", 5)  # each provider has its own sweep


async def _store_status(redis: aioredis.Redis, job_id: str, status: str) -> None:
    await redis.hset(keys.job(job_id), mapping={"status": status})


async def test_the_jobs_listing_confirms_unchanged_statuses(redis: aioredis.Redis) -> None:
    a = replica(redis, "a")
    await a.watch(["j1"], due_ms=now_ms() + 60_000)
    await _store_status(redis, "j1", "running")
    before = now_ms()
    assert await a.confirm_statuses([("j1", "running", "{}")]) == []
    assert int(await redis.hget(keys.job("j1"), "status_at") or 0) >= before
    assert await redis.hget(keys.job("j1"), "refresh") is None
    assert (await a.claim(1, lease_seconds=5))[0] == []  # not made due


async def test_a_changed_status_makes_the_job_due_with_a_refresh(redis: aioredis.Redis) -> None:
    a = replica(redis, "a")
    await a.watch(["j1", "j2"], due_ms=now_ms() + 60_000)
    await _store_status(redis, "j1", "running")
    await _store_status(redis, "j2", "running")
    listed = [("j1", "succeeded", "{}"), ("j2", "running", "{}"), ("other", "x", "{}")]
    changed = await a.confirm_statuses(listed)
    assert changed == ["j1"]
    assert await redis.hget(keys.job("j1"), "refresh") == "1"
    assert (await a.claim(5, lease_seconds=5))[0] == ["j1"]


async def test_a_job_never_polled_keeps_its_listing_for_the_first_poll(
    redis: aioredis.Redis,
) -> None:
    a = replica(redis, "a")
    await a.watch(["new"], due_ms=now_ms() + 60_000)
    await _store_status(redis, "unwatched", "running")
    listed = [("new", "running", '{"id": "new"}'), ("unwatched", "failed", "{}")]
    assert await a.confirm_statuses(listed, keep_seconds=5) == []
    assert not await redis.exists(keys.job("new"))  # no snapshot before the first poll
    stamp, _, body = str(await redis.get(keys.listed("new"))).partition("|")
    assert int(stamp) <= now_ms() and body == '{"id": "new"}'
    assert 0 < await redis.pttl(keys.listed("new")) <= 5000
    assert await redis.hget(keys.job("unwatched"), "refresh") is None
    assert not await redis.exists(keys.listed("unwatched"))


async def test_a_nudge_asks_the_next_poll_to_read_the_job(redis: aioredis.Redis) -> None:
    a = replica(redis, "a")
    await a.watch(["j1"])
    await _store_status(redis, "j1", "running")
    await a.nudge(["j1"])
    await a.nudge(["j1"])
    assert await redis.hget(keys.job("j1"), "refresh") == "2"


async def test_the_listing_is_compared_with_the_raw_status(redis: aioredis.Redis) -> None:
    a = replica(redis, "a")
    await a.watch(["new", "old"], due_ms=now_ms() + 60_000)
    await redis.hset(keys.job("new"), mapping={"status": "queued", "raw_status": "pending"})
    await _store_status(redis, "old", "pending")  # stored by the previous version
    listed = [("new", "pending", "{}"), ("old", "pending", "{}")]
    assert await a.confirm_statuses(listed) == []
    assert await a.confirm_statuses([("new", "queued", "{}")]) == ["new"]
