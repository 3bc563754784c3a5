"""Rule state loads and versioned commits on a real redis-server."""

from __future__ import annotations

import redis.asyncio as aioredis

from service.store.rule_state import Commit, RuleStateStore, next_version
from service.store.scripts import Scripts

JOB = "ftjob-1"


def store_on(redis: aioredis.Redis) -> RuleStateStore:
    return RuleStateStore(redis, Scripts(redis), group="rules")


async def test_a_load_leaves_out_the_states_the_caller_holds(redis: aioredis.Redis) -> None:
    store = store_on(redis)
    version = await store.commit(JOB, "0", Commit(seq=1, states={"r": "{}"}))
    assert version is not None
    held, stale, new = await store.load_many([JOB, JOB, "ftjob-2"], [version, "9.x", None])
    assert held is None
    assert stale is not None
    assert (stale.version, stale.last_seq, stale.states) == (version, 1, {"r": "{}"})
    assert new is not None
    assert (new.version, new.last_seq, new.states) == ("0", None, {})


async def test_a_commit_from_a_moved_version_writes_nothing(redis: aioredis.Redis) -> None:
    store = store_on(redis)
    first = await store.commit(JOB, "0", Commit(seq=1))
    assert await store.commit(JOB, "0", Commit(seq=2)) is None
    assert (await store.load(JOB)).version == first
    assert (await store.load(JOB)).last_seq == 1


def test_versions_count_commits_and_never_repeat() -> None:
    # Two commits from the same version (say, before and after Redis lost the state)
    # must differ, or a worker would take its own old state for the stored one.
    one, again = next_version("0"), next_version("0")
    assert one.startswith("1.")
    assert again.startswith("1.")
    assert one != again
    assert next_version(one).startswith("2.")
    assert next_version("7").startswith("8.")  # written by an older version
