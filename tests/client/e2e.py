"""A real `ftwatch run` for the client's end-to-end tests, and reads of what it shows."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from tests.support import FtwatchProcess, RedisServer, free_port

ADMIN = "admin-token"
TRAINER = "trainer-token"  # FTWATCH_INGEST_TOKEN: what the training process holds
RULES = """
rules:
  - name: loss-plateau
    match: {provider: ingest}
    when: {plateau: {metric: valid_loss, mode: min, patience: 3, min_delta: 0.001}}
    do: [pause]
  - name: reward-nan
    match: {provider: ingest}
    when: {threshold: {metric: train_reward_mean, non_finite: true}}
    do: [cancel]
"""


def ftwatch(redis_server: RedisServer, tmp_path: Path) -> FtwatchProcess:
    """`ftwatch run` with a plateau rule on `valid_loss` for ingested jobs (not started)."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    env = {
        "FTWATCH_REDIS_URL": redis_server.url,
        "FTWATCH_RULES": str(rules),
        "FTWATCH_API_TOKEN": ADMIN,
        "FTWATCH_INGEST_TOKEN": TRAINER,
        # No hosted account in these tests: the OpenAI provider points at a closed port.
        "OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
        "OPENAI_API_KEY": "sk-test",
        "FTWATCH_RULE_TICK_INTERVAL": "0.2",
    }
    return FtwatchProcess(env, tmp_path / "ftwatch.log")


@contextlib.asynccontextmanager
async def running(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[FtwatchProcess]:
    proc = ftwatch(redis_server, tmp_path)
    proc.start()
    try:
        await proc.wait_healthy()
        yield proc
    finally:
        assert proc.terminate() == 0, proc.log_tail()


async def read(url: str) -> Any:
    """GET with the admin token; the parsed JSON."""
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        assert resp.status == 200, (url, resp.status, await resp.text())
        return await resp.json()


async def acks(proc: FtwatchProcess, job_id: str) -> list[dict[str, Any]]:
    """The audit log's actions of the job that are the trainer's acks."""
    audit = await read(f"{proc.url}/v1/actions?job_id={job_id}")
    done = [e["action"] for e in audit["data"] if e["record"] == "action"]
    return [a for a in done if a["actor"] == "trainer"]
