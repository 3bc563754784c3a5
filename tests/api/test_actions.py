"""GET /v1/actions: the audit log, newest first, filtered by job and rule, paged."""

from __future__ import annotations

import redis.asyncio as aioredis

from service.models.firing import ActionResult, Firing, JobFacts
from service.store.audit import AuditLog
from tests.api.conftest import Api


def firing(n: int, job: str, rule: str) -> Firing:
    return Firing(
        firing_id=f"f{n}",
        rule=rule,
        kind="plateau",
        job=JobFacts(id=job),
        reason="flat",
        values={"valid_reward_mean": 0.61},
        best=float("nan"),
        fired_at=1_700_000_000.0 + n,
        actions=[ActionResult(action="pause", outcome="ok")],
    )


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

    async def ids(**params: str | int) -> tuple[list[str], str | None]:
        status, body = await api.get("/v1/actions", params=params)
        assert status == 200, body
        return [e["firing"]["firing_id"] for e in body["data"]], body["next_cursor"]

    assert (await ids())[0] == ["f4", "f3", "f2", "f1", "f0"]
    assert (await ids(job_id="ftjob-b"))[0] == ["f1"]
    assert (await ids(rule="errors"))[0] == ["f2"]
    first, cursor = await ids(job_id="ftjob-a", rule="plateau", limit=2)
    assert first == ["f4", "f3"]
    assert cursor is not None
    rest, _ = await ids(job_id="ftjob-a", rule="plateau", cursor=cursor)
    assert rest == ["f0"]


async def test_entries_are_strict_json(api: Api, redis: aioredis.Redis) -> None:
    await AuditLog(redis).record(firing(0, "ftjob-a", "plateau"))
    _, body = await api.get("/v1/actions")
    entry = body["data"][0]
    assert entry["firing"]["best"] == "NaN"
    assert entry["firing"]["actions"] == [
        {"action": "pause", "outcome": "ok", "detail": "", "at": None}
    ]
