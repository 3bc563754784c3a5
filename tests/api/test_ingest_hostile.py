"""Big ingest batches (issue 16): validated and folded in slices, so four near the body
limit at once leave the service responsive, and still store every event once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.api.conftest import Api, healthz_probe
from tests.api.test_rules_hostile import WORST_HEALTHZ

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


@pytest.mark.timeout(120)
async def test_four_big_batches_at_once_leave_healthz_responsive(api: Api) -> None:
    port = int(api.url.rsplit(":", 1)[1])
    # Encoded before the probe starts: the test's client shares the server's loop.
    batches = [big_batch(f"run-{n}") for n in range(4)]
    assert 900_000 < len(batches[0]) < 1024**2
    with healthz_probe(port) as times:
        results = await asyncio.gather(*(ingest(api, batch) for batch in batches))
    assert [status for status, _ in results] == [200] * 4, results
    assert [body["accepted"] for _, body in results] == [500] * 4
    assert len(times) >= 3, times  # the probe ran throughout
    assert max(times) < WORST_HEALTHZ, sorted(times)[-5:]
