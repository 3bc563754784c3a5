"""Big ingest batches (issue 16): validated and folded in slices, so other requests run
between them, and a bad event deep in one is still named."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from service.api.ingest_fold import new_snapshot
from service.api.ingest_slices import fold_sliced, parse_batch
from tests.api.conftest import Api

METRICS = 58  # per event: 500 events make a ~1 MB batch, just under aiohttp's 1 MiB limit


def big_batch(job_id: str, *, bad: int | None = None) -> bytes:
    events: list[dict[str, Any]] = [
        {
            "job_id": job_id,
            "event_id": f"step-{i}",
            "created_at": 1_700_000_000 + i,
            "type": "metrics",
            "data": {"step": i, **{f"loss_{k}": 1.0 / (i + k + 1) for k in range(METRICS)}},
        }
        for i in range(500)
    ]
    if bad is not None:
        events[bad]["created_at"] = "yesterday"
    return json.dumps({"events": events}).encode()


async def ingest(api: Api, body: bytes) -> tuple[int, Any]:
    return await api.post("/v1/ingest/events", data=body, auth=True)


async def test_a_bad_event_late_in_a_big_batch_is_named_and_nothing_is_stored(api: Api) -> None:
    status, body = await ingest(api, big_batch("run-bad", bad=437))
    assert status == 422, body
    assert [d["loc"] for d in body["error"]["details"]] == ["events[437].created_at"]
    status, body = await api.get("/v1/jobs/ingest:run-bad", auth=True)
    assert status == 404, body


async def test_a_big_batch_lets_other_work_run_every_few_events() -> None:
    """Deterministic: counts the turns another task gets while one batch is validated and
    folded (inline, it would get none). The latency this buys is in bench/ingest_stall.py."""
    data = json.loads(big_batch("run-turns"))
    turns = 0
    busy = True

    async def other_work() -> None:
        nonlocal turns
        while busy:
            await asyncio.sleep(0)
            turns += 1

    task = asyncio.create_task(other_work())
    await asyncio.sleep(0)  # let it start
    batch = await parse_batch(data)
    after_parse = turns
    snapshot, events = await fold_sliced(new_snapshot("run-turns"), batch.events)
    busy = False
    await task
    slices = len(batch.events) // 10  # at least a turn every ten events
    assert after_parse >= slices
    assert turns - after_parse >= slices
    assert len(events) == 500 and snapshot.step == 499
