"""GET /v1/actions: the audit log, newest first, filtered by job, rule and firing, paged.

A firing is recorded once; each action it causes is an entry of its own naming the
firing's id (issue 18). Entries the version before wrote (an action as a whole firing)
still read."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from service.models.audit import ActionRecord, action_record
from service.models.firing import ActionResult, Firing, JobFacts
from service.store import keys
from service.store.audit import AuditLog
from tests.api.conftest import Api

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def firing(n: int, job: str, rule: str) -> Firing:
    return Firing(
        firing_id=f"f{n}",
        rule=rule,
        kind="plateau",
        job=JobFacts(id=job),
        reason="flat",
        values={"valid_reward_mean": 0.61},
        best=float("nan"),
        best_step=40,
        fired_at=T0 + n,
        event_created_at=int(T0) + n,
        actions=[ActionResult(action="pause", outcome="queued")],
    )


def done(fired: Firing, outcome: str = "ok", checkpoint: str | None = None) -> ActionRecord:
    result = ActionResult(action="pause", outcome=outcome, detail="", at=fired.fired_at + 0.5)
    return action_record(fired, result, checkpoint)


async def page(api: Api, **params: str | int) -> Any:
    status, body = await api.get("/v1/actions", params=params)
    assert status == 200, body
    return body


def names(body: dict[str, Any]) -> list[str]:
    """`f3` for a firing entry, `f3:pause` for one of its actions."""
    return [
        e["firing"]["firing_id"] if e["record"] == "firing" else f"{e['action']['firing_id']}:pause"
        for e in body["data"]
    ]


async def test_filters_and_pages(api: Api, redis: aioredis.Redis) -> None:
    audit = AuditLog(redis)
    plan = [
        ("ftjob-a", "plateau"),
        ("ftjob-b", "plateau"),
        ("ftjob-a", "errors"),
        ("ftjob-a", "plateau"),
        ("ftjob-a", "plateau"),
    ]
    for n, (job, rule) in enumerate(plan):
        await audit.record(firing(n, job, rule))
        await audit.record_action(done(firing(n, job, rule)))

    assert names(await page(api, limit=4)) == ["f4:pause", "f4", "f3:pause", "f3"]
    assert names(await page(api, job_id="ftjob-b")) == ["f1:pause", "f1"]
    assert names(await page(api, job_id="openai:ftjob-b")) == ["f1:pause", "f1"]
    assert names(await page(api, rule="errors")) == ["f2:pause", "f2"]
    assert names(await page(api, firing_id="f3")) == ["f3:pause", "f3"]
    first = await page(api, job_id="ftjob-a", rule="plateau", limit=3)
    assert names(first) == ["f4:pause", "f4", "f3:pause"]
    rest = await page(api, job_id="ftjob-a", rule="plateau", cursor=first["next_cursor"])
    assert names(rest) == ["f3", "f0:pause", "f0"]


async def test_a_firing_is_recorded_once_and_its_actions_name_it(
    api: Api, redis: aioredis.Redis
) -> None:
    audit = AuditLog(redis)
    fired = firing(0, "ftjob-a", "plateau")
    await audit.record(fired)
    await audit.record_action(done(fired, checkpoint="ft:gpt-4o:ckpt-step-40"))
    resume = ActionResult(action="resume", outcome="ok", at=T0 + 600)
    await audit.record_action(action_record(fired, resume, None))
    body = await page(api)
    resumed, paused, fired_entry = body["data"]
    assert fired_entry["record"] == "firing" and fired_entry["action"] is None
    assert fired_entry["firing"]["reason"] == "flat"
    assert fired_entry["firing"]["best"] == "NaN"  # strict JSON, the number named
    assert fired_entry["firing"]["fired_at"] == "2023-11-14T22:13:20.000Z"
    assert fired_entry["firing"]["event_created_at"] == "2023-11-14T22:13:20.000Z"
    assert paused == {
        "id": paused["id"],
        "record": "action",
        "firing": None,  # the firing is the entry above: not repeated
        "action": {
            "firing_id": "f0",
            "rule": "plateau",
            "provider": "openai",
            "job_id": "ftjob-a",
            "action": "pause",
            "outcome": "ok",
            "detail": "",
            "checkpoint": "ft:gpt-4o:ckpt-step-40",
            "actor": "ftwatch",
            "at": "2023-11-14T22:13:20.500Z",
        },
    }
    assert (resumed["action"]["action"], resumed["action"]["at"]) == (
        "resume",
        "2023-11-14T22:23:20.000Z",
    )


async def test_entries_of_the_previous_version_still_read(api: Api, redis: aioredis.Redis) -> None:
    """Before issue 18 an action's entry was its whole firing again (`stage: action`)."""
    fired = firing(0, "ftjob-a", "plateau")
    old_action = fired.model_copy(
        update={
            "stage": "action",
            "checkpoint": "ckpt-40",
            "actions": [ActionResult(action="pause", outcome="ok", at=T0 + 2)],
        }
    )
    manual = Firing(
        firing_id="api:1",
        rule="api:alice",
        kind="manual",
        job=JobFacts(id="ftjob-a"),
        reason="reward looks flat",
        fired_at=T0 + 3,
        actions=[ActionResult(action="cancel", outcome="ok", at=T0 + 3)],
        stage="action",  # the only entry an old manual action had
    )
    for record in (fired, old_action, manual):
        await redis.xadd(keys.ACTIONS_STREAM, {"f": record.model_dump_json()})
    body = await page(api)
    cancelled, paused, fired_entry = body["data"]
    assert fired_entry["record"] == "firing"
    assert paused["record"] == "action"
    assert paused["action"] | {"detail": ""} == {
        "firing_id": "f0",
        "rule": "plateau",
        "provider": "openai",
        "job_id": "ftjob-a",
        "action": "pause",
        "outcome": "ok",
        "detail": "",
        "checkpoint": "ckpt-40",
        "actor": "ftwatch",
        "at": "2023-11-14T22:13:22.000Z",
    }
    assert paused["firing"]["reason"] == "flat"  # the copy it was written with, as it was
    assert (cancelled["action"]["actor"], cancelled["action"]["action"]) == ("api:alice", "cancel")
    assert cancelled["firing"]["reason"] == "reward looks flat"
    assert names(await page(api, firing_id="f0")) == ["f0:pause", "f0"]
