"""Decisions across real processes: an `api` and a `worker` ftwatch on one redis-server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.decisions import RULES, TRAINER  # the same plateau rule and trainer token
from tests.integration.conftest import StartFtwatch
from tests.support import FtwatchProcess, eventually


def env(tmp_path: Path) -> dict[str, str]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    return {
        "FTWATCH_RULES": str(rules),
        "FTWATCH_API_TOKEN": "admin-token",
        "FTWATCH_INGEST_TOKEN": "trainer-token",
        "FTWATCH_LOG_LEVEL": "debug",
    }


def batch(job: str, losses: list[float]) -> dict[str, Any]:
    return {
        "events": [
            {
                "job_id": job,
                "event_id": f"s{n}",
                "created_at": 1_700_000_000 + n,
                "type": "metrics",
                "metrics": {"step": n, "valid_loss": loss},
            }
            for n, loss in enumerate(losses, start=1)
        ]
    }


async def call(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> Any:
    async with http.request(method, url, headers=TRAINER, **kw) as resp:
        body = await resp.json() if resp.content_type == "application/json" else None
        return resp.status, body


async def test_a_decision_made_by_a_worker_reaches_a_long_poll_on_the_api(
    start_ftwatch: StartFtwatch, tmp_path: Path
) -> None:
    api = start_ftwatch("api-1", "api", env(tmp_path))
    worker = start_ftwatch("worker-1", "worker", env(tmp_path))
    await api.wait_healthy()
    await worker.wait_healthy()
    async with aiohttp.ClientSession() as http:
        status, _ = await call(http, "GET", f"{api.url}/v1/jobs/run-a/decision")
        assert status == 404  # no events yet: no job
        status, reply = await call(
            http, "POST", f"{api.url}/v1/ingest/events", json=batch("run-a", [1.0, 0.5, 0.5, 0.5])
        )
        assert status == 200, reply
        started = time.monotonic()
        status, decision = await call(http, "GET", f"{api.url}/v1/jobs/run-a/decision?wait=30")
        assert status == 200, (decision, worker.log_tail())
        assert decision["action"] == "pause" and decision["job_id"] == "run-a"
        assert time.monotonic() - started < 30


def _waiting(proc: FtwatchProcess) -> bool:
    return any(r.get("event") == "decision_wait" for r in proc.log_records())


async def test_sigterm_ends_a_waiting_long_poll_at_once_and_exits_0(
    start_ftwatch: StartFtwatch, tmp_path: Path
) -> None:
    proc = start_ftwatch("replica-a", "all", env(tmp_path))
    await proc.wait_healthy()
    async with aiohttp.ClientSession() as http:
        status, _ = await call(http, "POST", f"{proc.url}/v1/ingest/events", json=batch("r", [1]))
        assert status == 200
        poll = asyncio.create_task(call(http, "GET", f"{proc.url}/v1/jobs/r/decision?wait=60"))
        await eventually(lambda: asyncio.to_thread(_waiting, proc), message="the poll waits")
        started = time.monotonic()
        code = await asyncio.to_thread(proc.terminate, 30.0)
        status, body = await asyncio.wait_for(poll, timeout=30)
    assert (status, body, code) == (204, None, 0), proc.log_tail()
    assert time.monotonic() - started < 30  # not the poll's 60 s
    errors = [r for r in proc.log_records() if r.get("level") in {"error", "critical"}]
    assert errors == [], proc.log_tail()
