"""One `ftwatch run` watching an OpenAI and an Azure account whose jobs have the same ids."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from simulator.presets import DEMO_PLATEAU, default_scenario
from tests.support import FtwatchProcess, RedisServer, eventually

ROOT = Path(__file__).resolve().parents[2]
AZURE_KEY = "azure-test-key"


def _simulate(flavor: str, scenario: Path) -> tuple[subprocess.Popen[str], str]:
    """A real `ftwatch simulate` process; returns it and the base URL it listens on."""
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "service.cli", "simulate", "--port", "0"),
            *("--scenario", str(scenario), "--flavor", flavor),
        ],
        cwd=ROOT,
        env={**os.environ, "FTWATCH_LOG_FORMAT": "json"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = json.loads(proc.stderr.readline())  # the listening line names the bound port
    assert line["event"] == "simulator.listening", line
    # Drained on, so the simulator's log can never fill the pipe and block it.
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    return proc, str(line["base_url"])


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    """No jobs yet: the plateauing job is added once ftwatch is up (plateau_job)."""
    empty = default_scenario().model_copy(update={"jobs": []})
    path = tmp_path / "scenario.json"
    path.write_text(empty.model_dump_json(), encoding="utf-8")
    return path


def plateau_job() -> str:
    """The demo's plateauing RFT job, a step every 0.2 s (its plateau ~4 s after start)."""
    demo = default_scenario(step_period=0.2)
    return next(j for j in demo.jobs if j.id == DEMO_PLATEAU).model_dump_json()


async def _start_jobs(http: aiohttp.ClientSession, sims: dict[str, str]) -> None:
    """The same job on both upstreams, started now: a job that ran before ftwatch was up
    would be history, which a fresh start does not adopt."""
    body = plateau_job()
    for url in sims.values():
        root = url.removesuffix("/v1").removesuffix("/openai")
        headers = {"Content-Type": "application/json"}
        async with http.post(f"{root}/_sim/jobs", data=body, headers=headers) as resp:
            assert resp.status == 201, await resp.text()


@pytest.fixture
def sims(scenario: Path) -> Iterator[dict[str, str]]:
    procs = {name: _simulate(name, scenario) for name in ("openai", "azure")}
    try:
        yield {name: url for name, (_, url) in procs.items()}
    finally:
        for proc, _ in procs.values():
            proc.terminate()
            proc.wait(timeout=10)
            assert proc.stderr is not None
            proc.stderr.close()


def _config(sims: dict[str, str]) -> str:
    endpoint = sims["azure"].removesuffix("/openai")
    return f"""
providers:
  - name: openai
    kind: openai
    base_url: {sims["openai"]}
  - name: azure-east
    kind: azure_openai
    endpoint: {endpoint}
    api_version: 2025-04-01-preview
    api_key_env: AZURE_TEST_KEY
rules:
  - name: reward-plateau
    match: {{method: reinforcement}}
    when: {{plateau: {{metric: valid_reward_mean, mode: max, patience: 3, min_delta: 0.01}}}}
    do: [pause]
"""


async def _json(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as resp:
        return resp.status, await resp.json()


async def test_each_providers_plateau_is_paused_once_on_its_own_upstream(
    sims: dict[str, str], redis_server: RedisServer, tmp_path: Path
) -> None:
    rules = tmp_path / "ftwatch.yaml"
    rules.write_text(_config(sims), encoding="utf-8")
    env = {
        "FTWATCH_REDIS_URL": redis_server.url,
        "FTWATCH_RULES": str(rules),
        "OPENAI_API_KEY": "sk-test",
        "AZURE_TEST_KEY": AZURE_KEY,
        "FTWATCH_POLL_INTERVAL": "0.2",
        "FTWATCH_DISCOVERY_INTERVAL": "0.5",
        "FTWATCH_RULE_TICK_INTERVAL": "0.2",
    }
    proc = FtwatchProcess(env, tmp_path / "ftwatch.log")
    proc.start()
    try:
        await proc.wait_healthy()
        async with aiohttp.ClientSession() as http:
            await _start_jobs(http, sims)
            await _both_paused(http, proc, sims)
    finally:
        assert proc.terminate() == 0, proc.log_tail()


async def _both_paused(
    http: aiohttp.ClientSession, proc: FtwatchProcess, sims: dict[str, str]
) -> None:
    async def paused(provider: str) -> bool:
        status, job = await _json(http, f"{proc.url}/v1/jobs/{provider}:{DEMO_PLATEAU}")
        return status == 200 and job["status"] == "paused"

    for provider in ("openai", "azure-east"):
        await eventually(partial(paused, provider), timeout=60, message=f"{provider} paused")
    for flavor, url in sims.items():
        root = url.removesuffix("/v1").removesuffix("/openai")
        _, calls = await _json(http, f"{root}/_sim/actions?job_id={DEMO_PLATEAU}")
        done = [c["action"] for c in calls["actions"] if c["outcome"] == "ok"]
        assert done == ["pause"], (flavor, calls)
    status, body = await _json(http, f"{proc.url}/v1/jobs/{DEMO_PLATEAU}")
    assert (status, body["error"]["code"]) == (409, "ambiguous_job")
    _, audit = await _json(http, f"{proc.url}/v1/actions?job_id={DEMO_PLATEAU}")
    pauses = [e["action"]["provider"] for e in audit["data"] if e["record"] == "action"]
    assert sorted(pauses) == ["azure-east", "openai"]
