"""`ftwatch status` against a running service: what it watches, read from its API."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from service.status import Snapshot, render
from tests.integration.conftest import Pipeline
from tests.integration.test_pipeline import DIVERGES, PLATEAU
from tests.support import eventually, free_port


def status(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", "status", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_status_shows_jobs_by_provider_and_the_actions_taken(pipeline: Pipeline) -> None:
    async def acted() -> bool:
        done = {a.job_id for a in await pipeline.actions()}
        return {PLATEAU, DIVERGES} <= done

    await eventually(acted, timeout=40, interval=0.2, message="no pause and cancel yet")
    result = await asyncio.to_thread(status, "--url", pipeline.app_url)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("Jobs (4):\n  openai: "), text
    assert f"  openai:{PLATEAU}  pause ok  (reward-plateau)" in text
    assert f"  openai:{DIVERGES}  cancel ok  (loss-divergence)" in text


def test_an_unreachable_service_is_one_line_and_exit_1() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = status("--url", url)
    assert result.returncode == 1
    assert result.stderr.startswith(f"ftwatch status: {url}/v1/jobs?limit=500: ")
    assert "is ftwatch running there?" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_plateau_rule_one_evaluation_from_firing_is_shown() -> None:
    job = {
        "provider": "together",
        "job_id": "ft-1",
        "status": "running",
        "step": 30,
        "total_steps": 100,
        "metrics": {"valid_loss": 0.41234},
        "rules": {"loss-plateau": {"armed": True, "detector": {"kind": "plateau", "wait": 4}}},
    }
    rules = [{"name": "loss-plateau", "when": {"plateau": {"metric": "valid_loss", "patience": 5}}}]
    waiting = {
        "id": "dec_1",
        "action": "pause",
        "rule": "loss-plateau",
        "reason": "flat",
        "ack": None,
    }
    trainer = {"provider": "ingest", "job_id": "run-7", "status": "running", "decisions": [waiting]}
    text = render(Snapshot(jobs=[job, trainer], rules=rules, actions=[]))
    assert "  together:ft-1  running step 30/100  valid_loss=0.4123" in text
    assert "About to fire:\n  loss-plateau on together:ft-1: 4 of 5 evaluations" in text
    assert "  ingest:run-7  pause (loss-plateau)  dec_1: flat" in text
    assert text.endswith("No actions yet.\n")
