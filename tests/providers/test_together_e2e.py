"""A real `ftwatch run` watching a real `ftwatch simulate --flavor together`: a NaN loss is
cancelled once, a pause Together cannot do is recorded and notified, never sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from simulator.curves import Curve
from simulator.presets import TOGETHER_MODEL
from simulator.scenario import JobSpec, Scenario
from tests.notify.webhook_receiver import SECRET, WebhookReceiver, serve_receiver
from tests.providers.test_two_providers import _json, _simulate
from tests.support import FtwatchProcess, RedisServer, eventually

KEY = "together-e2e-key"
NAN_JOB = "ft-e2e-sft-nan"
DPO_JOB = "ft-e2e-dpo-plateau"
EARLY_JOB = "ft-e2e-sft-early-stop"
FAILED = "ftwatch.action.failed"


def _scenario() -> Scenario:
    """A step every 0.1 s: SFT turning NaN at step 8 of 300, a DPO plateau, an early stop."""
    common: dict[str, Any] = {"step_period": 0.1, "start_after": 0.2, "model": TOGETHER_MODEL}
    nan = JobSpec(
        id=NAN_JOB,
        total_steps=300,
        metrics={"train_loss": Curve(kind="constant", start=1.0, nan_at=8)},
        **common,
    )
    flat = Curve(kind="plateau", start=0.7, end=0.45, plateau_at=6, noise=0.001, seed=3)
    dpo = JobSpec(
        id=DPO_JOB, method="dpo", total_steps=300, eval_interval=2, metrics={"valid_loss": flat}
    )
    dpo = dpo.model_copy(update=common)
    # Stops early 10 s in: running when ftwatch's first sweep lists it, so it is watched.
    early = JobSpec(id=EARLY_JOB, total_steps=300, early_stop_at=100, **common)
    return Scenario(jobs=[nan, dpo, early])


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[str]:
    path = tmp_path / "scenario.json"
    path.write_text(_scenario().model_dump_json(), encoding="utf-8")
    proc, url = _simulate("together", path)
    try:
        yield url.removesuffix("/v1")  # a bare host, as SPEC §5's example gives it
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async for running in serve_receiver():
        yield running


def _config(sim: str, hook: str) -> str:
    return f"""
providers:
  - name: together
    kind: together
    base_url: {sim}
    api_key_env: TOGETHER_E2E_KEY
receivers:
  - name: ops
    url: {hook}
    format: standard
    secret_env: OPS_SECRET
rules:
  - name: loss-nan
    match: {{method: supervised}}
    when: {{threshold: {{metric: train_loss, non_finite: true}}}}
    do: [cancel]
  - name: dpo-plateau
    match: {{method: dpo}}
    when: {{plateau: {{metric: valid_loss, mode: min, patience: 3, min_delta: 0.01}}}}
    do: [pause, {{notify: ops}}]
"""


@pytest.fixture
async def ftwatch(
    sim: str, receiver: WebhookReceiver, redis_server: RedisServer, tmp_path: Path
) -> AsyncIterator[FtwatchProcess]:
    rules = tmp_path / "ftwatch.yaml"
    rules.write_text(_config(sim, receiver.add("ops")), encoding="utf-8")
    env = {
        "FTWATCH_REDIS_URL": redis_server.url,
        "FTWATCH_RULES": str(rules),
        "TOGETHER_E2E_KEY": KEY,
        "OPS_SECRET": SECRET,
        "FTWATCH_POLL_INTERVAL": "0.2",
        "FTWATCH_DISCOVERY_INTERVAL": "0.5",
        "FTWATCH_RULE_TICK_INTERVAL": "0.2",
    }
    proc = FtwatchProcess(env, tmp_path / "ftwatch.log")
    proc.start()
    try:
        await proc.wait_healthy()
        yield proc
    finally:
        assert proc.terminate() == 0, proc.log_tail()


async def _job(http: aiohttp.ClientSession, proc: FtwatchProcess, job_id: str) -> Any:
    status, body = await _json(http, f"{proc.url}/v1/jobs/together:{job_id}")
    return body if status == 200 else None


async def _has(http: aiohttp.ClientSession, proc: FtwatchProcess, job_id: str, **want: Any) -> bool:
    job = await _job(http, proc, job_id)
    return job is not None and all(job.get(k) == v for k, v in want.items())


async def test_a_nan_loss_is_cancelled_exactly_once(sim: str, ftwatch: FtwatchProcess) -> None:
    async with aiohttp.ClientSession() as http:
        cancelled = partial(_has, http, ftwatch, NAN_JOB, status="cancelled")
        await eventually(cancelled, timeout=60, message="the NaN job cancelled")
        _, calls = await _json(http, f"{sim}/_sim/actions?job_id={NAN_JOB}")
        assert [(c["action"], c["outcome"]) for c in calls["actions"]] == [("cancel", "ok")]
        _, audit = await _json(http, f"{ftwatch.url}/v1/actions?job_id=together:{NAN_JOB}")
        done = [e["action"] for e in audit["data"] if e["record"] == "action"]
        assert [(a["rule"], a["action"], a["outcome"]) for a in done] == [
            ("loss-nan", "cancel", "ok")
        ]
        job = await _job(http, ftwatch, NAN_JOB)
        assert job["raw_status"] in ("cancel_requested", "cancelled")
        assert job["step"] >= 8 and "train/loss" in job["metrics"]


async def test_a_pause_together_lacks_is_recorded_notified_and_never_sent(
    sim: str, ftwatch: FtwatchProcess, receiver: WebhookReceiver
) -> None:
    async def notified() -> bool:
        return any(a.body["type"] == FAILED for a in receiver["ops"].arrivals)

    await eventually(notified, timeout=60, message="ftwatch.action.failed delivered")
    async with aiohttp.ClientSession() as http:
        _, audit = await _json(http, f"{ftwatch.url}/v1/actions?job_id=together:{DPO_JOB}")
        actions = [e["action"] for e in audit["data"] if e["record"] == "action"]
        (result,) = actions
        assert result["action"] == "pause"
        assert result["outcome"] == "unsupported" and "no pause" in result["detail"]
        _, stats = await _json(http, f"{sim}/_sim/stats")
        assert "POST (unmatched)" not in stats["by_endpoint"], stats  # no /pause was tried
        _, calls = await _json(http, f"{sim}/_sim/actions?job_id={DPO_JOB}")
        assert calls["actions"] == []
    failed = [a for a in receiver["ops"].arrivals if a.body["type"] == FAILED]
    assert len(failed) == 1 and failed[0].verified
    data = failed[0].body["data"]
    assert (data["provider"], data["job_id"], data["rule"]) == ("together", DPO_JOB, "dpo-plateau")
    assert "Together's API has no pause" in str(data["actions"])


async def test_togethers_early_stopping_shows_in_the_job_view(ftwatch: FtwatchProcess) -> None:
    async with aiohttp.ClientSession() as http:
        done = partial(_has, http, ftwatch, EARLY_JOB, status="succeeded")
        await eventually(done, timeout=60, message="the early-stopped job succeeded")
        job = await _job(http, ftwatch, EARLY_JOB)
    assert job["raw_status"] == "completed"
    details = job["provider_details"]
    assert details["early_stopped"] is True
    assert details["early_stopping_best_step"] <= 100
    assert isinstance(details["early_stopping_best_metric"], float)
