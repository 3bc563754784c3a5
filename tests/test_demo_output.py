"""The demo's lines and final table read the audit log as written now and as written
before issue 18 (an action as a whole firing)."""

from __future__ import annotations

import io

import redis.asyncio as aioredis

from service.demo_output import DemoPrinter
from service.models.audit import action_record
from service.models.firing import ActionResult, Firing, JobFacts
from service.store import keys
from service.store.audit import AuditLog


def fired(job: str, rule: str) -> Firing:
    return Firing(
        firing_id=f"{rule}:{job}:1",
        rule=rule,
        kind="plateau",
        job=JobFacts(id=job),
        reason="valid_reward_mean has not improved",
        fired_at=1_700_000_000.0,
        actions=[ActionResult(action="pause", outcome="queued")],
    )


async def test_firings_and_actions_old_and_new_are_printed_and_tabled(
    redis: aioredis.Redis,
) -> None:
    audit = AuditLog(redis)
    new = fired("ftjob-new", "reward-plateau")
    await audit.record(new)
    await audit.record_action(
        action_record(new, ActionResult(action="pause", outcome="ok", at=1_700_000_001.0), None)
    )
    old = fired("ftjob-old", "loss-nan")
    legacy = old.model_copy(
        update={"stage": "action", "actions": [ActionResult(action="cancel", outcome="ok")]}
    )
    await redis.xadd(keys.ACTIONS_STREAM, {"f": legacy.model_dump_json()})
    out = io.StringIO()
    printer = DemoPrinter(redis, out)
    await printer.print_new()
    assert out.getvalue().splitlines() == [
        "FIRED   [reward-plateau] ftjob-new: valid_reward_mean has not improved → pause queued",
        "ACTION  ftjob-new: pause ok (reward-plateau)",
        "ACTION  ftjob-old: cancel ok (loss-nan)",
    ]
    table = printer.summary({"ftjob-new": "paused", "ftjob-old": "cancelled"}, 0, 60.0)
    assert "  ftjob-new  paused        pause ok\n" in table
    assert "  ftjob-old  cancelled     cancel ok\n" in table
