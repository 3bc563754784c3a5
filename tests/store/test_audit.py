"""The audit log stream: a Firing under field `f` or an action under `a`, paged and filtered."""

from __future__ import annotations

import redis.asyncio as aioredis

from service.models.audit import action_record
from service.models.firing import ActionResult, Firing, JobFacts
from service.store import keys
from service.store.audit import AuditLog
from tests.support import xrange


def firing(n: int, job: str = "ftjob-a", rule: str = "r") -> Firing:
    return Firing(
        firing_id=f"f{n}",
        rule=rule,
        kind="manual",
        job=JobFacts(id=job),
        reason="why",
        fired_at=float(n),
        values={"loss": float("nan")},
    )


async def test_record_writes_one_field_with_the_firing(redis: aioredis.Redis) -> None:
    entry_id = await AuditLog(redis).record(firing(1))
    [(found_id, fields)] = await xrange(redis, keys.ACTIONS_STREAM)
    assert found_id == entry_id
    assert list(fields) == ["f"]
    assert Firing.model_validate_json(fields["f"]).firing_id == "f1"


async def test_filters_skip_unreadable_entries(redis: aioredis.Redis) -> None:
    audit = AuditLog(redis)
    await audit.record(firing(1, job="ftjob-a"))
    await redis.xadd(keys.ACTIONS_STREAM, {"f": "{broken"})
    await redis.xadd(keys.ACTIONS_STREAM, {"other": "x"})
    await audit.record(firing(2, job="ftjob-b"))
    await audit.record(firing(3, job="odd id/ü", rule="x"))
    page = await audit.page()
    assert [f.firing_id for _, f in page.items] == ["f3", "f2", "f1"]
    assert [f.firing_id for _, f in (await audit.page(job_id="ftjob-a")).items] == ["f1"]
    assert [f.firing_id for _, f in (await audit.page(job_id="odd id/ü")).items] == ["f3"]
    assert [f.firing_id for _, f in (await audit.page(rule="x")).items] == ["f3"]


async def test_an_action_is_its_own_field_naming_its_firing(redis: aioredis.Redis) -> None:
    audit = AuditLog(redis)
    fired = firing(1, job="ftjob-a", rule="api:alice")
    result = ActionResult(action="pause", outcome="ok", at=5.0)
    await audit.record(fired)
    await audit.record_action(action_record(fired, result, "ckpt"))
    (_, first), (_, second) = await xrange(redis, keys.ACTIONS_STREAM)
    assert (list(first), list(second)) == (["f"], ["a"])
    assert "why" not in second["a"]  # the firing's reason is not repeated
    (_, action), (_, fired_item) = (await audit.page()).items
    assert fired_item.firing is not None and fired_item.action is None
    assert fired_item.firing.reason == "why"
    assert action.firing is None and action.action is not None
    assert (action.action.firing_id, action.action.actor, action.action.checkpoint) == (
        "f1",
        "api:alice",  # a manual action's actor is who asked for it
        "ckpt",
    )
    assert len((await audit.page(job_id="ftjob-a", rule="api:alice", firing_id="f1")).items) == 2
    assert (await audit.page(firing_id="f2")).items == []
