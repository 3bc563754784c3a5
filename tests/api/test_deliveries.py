"""GET /v1/deliveries/dead and POST /v1/deliveries/dead/{id}/replay."""

from __future__ import annotations

import asyncio
import json

import redis.asyncio as aioredis

from service.models.firing import Firing, JobFacts
from service.store import keys
from tests.api.conftest import Api
from tests.support import xrange

T0 = 1_764_576_000.0  # 2025-12-01T08:00:00Z


async def park(redis: aioredis.Redis, n: int, receiver: str = "ops") -> str:
    firing = Firing(
        firing_id=f"f{n}",
        rule="plateau",
        kind="plateau",
        job=JobFacts(id="ftjob-a"),
        reason="flat",
        fired_at=T0,
    )
    dead = {
        "id": f"msg_{n}",
        "receiver": receiver,
        "firing": firing.model_dump(mode="json"),
        "attempts": [
            {
                "at": T0 + 1.25,
                "duration": 0.5,
                "status": 500,
                "detail": "see https://hooks.example.com/T0/secret",
            },
            {"at": T0 + 2, "error": "HTTP 500 from https://hooks.example.com/T0/secret"},
            "not an attempt",
        ],
    }
    return str(await redis.xadd(keys.DEAD_DELIVERIES_STREAM, {"d": json.dumps(dead)}))


async def test_list_newest_first_with_urls_redacted(api: Api, redis: aioredis.Redis) -> None:
    ids = [await park(redis, n) for n in range(3)]
    status, body = await api.get("/v1/deliveries/dead", params={"limit": 2})
    assert status == 200
    assert [d["id"] for d in body["data"]] == [ids[2], ids[1]]
    first = body["data"][0]
    assert (first["delivery_id"], first["receiver"]) == ("msg_2", "ops")
    assert first["firing"]["firing_id"] == "f2"
    assert first["firing"]["fired_at"] == "2025-12-01T08:00:00.000Z"
    tried, failed, broken = first["attempts"]
    assert tried == {
        "at": "2025-12-01T08:00:01.250Z",
        "duration": 0.5,
        "status": 500,
        "error": None,
        "retry_after": None,
        "detail": "see https://hooks.example.com/…",
    }
    assert (failed["at"], failed["error"]) == (
        "2025-12-01T08:00:02.000Z",
        "HTTP 500 from https://hooks.example.com/…",
    )
    assert (broken["at"], broken["error"]) == (None, "unreadable attempt record")
    _, rest = await api.get("/v1/deliveries/dead", params={"cursor": body["next_cursor"]})
    assert [d["id"] for d in rest["data"]] == [ids[0]]


async def test_replay_requeues_once(api: Api, redis: aioredis.Redis) -> None:
    dead_id = await park(redis, 7, receiver="pager")
    path = f"/v1/deliveries/dead/{dead_id}/replay"
    answers = await asyncio.gather(*(api.post(path, auth=True) for _ in range(3)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [202, 404, 404]  # concurrent replays deliver once
    body = next(b for s, b in answers if s == 202)
    assert (body["id"], body["receiver"]) == (dead_id, "pager")
    queued = await xrange(redis, keys.DELIVERIES_STREAM)
    assert len(queued) == 1
    entry_id, fields = queued[0]
    assert entry_id == body["queued_as"]
    assert fields["r"] == "pager"
    assert Firing.model_validate_json(fields["f"]).firing_id == "f7"
    assert await redis.xlen(keys.DEAD_DELIVERIES_STREAM) == 0


async def test_unknown_or_malformed_ids(api: Api) -> None:
    for dead_id in ("1-0", "not-an-id"):
        status, body = await api.post(f"/v1/deliveries/dead/{dead_id}/replay", auth=True)
        assert status == 404
        assert body["error"]["code"] in {"delivery_not_found", "not_found"}
