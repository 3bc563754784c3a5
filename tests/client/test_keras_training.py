"""A real Keras 3 training (JAX backend, CPU) paused by ftwatch through FtwatchCallback."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.client.e2e import TRAINER, acks, read, running
from tests.support import FtwatchProcess, RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
EPOCHS = 100  # the limit; the plateau fires after about 4 epochs


@pytest.fixture
async def ftwatch(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[FtwatchProcess]:
    async with running(redis_server, tmp_path) as proc:
        yield proc


def train(url: str, job_id: str, checkpoints: Path) -> tuple[int, dict[str, Any], str]:
    """Run tests/client/keras_run.py as its own process: exit code, its JSON, its stderr."""
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "JAX_PLATFORMS": "cpu",
        "FTWATCH_URL": url,
        "FTWATCH_INGEST_TOKEN": TRAINER,
        "FTWATCH_JOB_ID": job_id,
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.client.keras_run", str(EPOCHS), str(checkpoints)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    return done.returncode, json.loads(lines[-1]) if lines else {}, done.stderr


@pytest.mark.timeout(180)
async def test_a_plateau_pauses_the_training_with_a_checkpoint_the_ack_names(
    ftwatch: FtwatchProcess, tmp_path: Path
) -> None:
    code, result, stderr = await asyncio.to_thread(train, ftwatch.url, "keras-1", tmp_path / "ck")
    assert code == 0, stderr[-3000:]
    assert result["epochs"] < EPOCHS / 2, (result, stderr[-3000:])  # well before its limit
    checkpoint = result["checkpoint"]
    assert checkpoint and checkpoint.startswith(str(tmp_path / "ck")), result
    assert zipfile.is_zipfile(checkpoint) and result["loadable"]  # a real .keras file
    job = await read(f"{ftwatch.url}/v1/jobs/ingest:keras-1")
    assert (job["status"], job["decisions"]) == ("paused", []), (job, stderr[-3000:])
    assert job["metrics"]["valid_loss"] == job["metrics"]["val_loss"]  # raw name kept
    (ack,) = await acks(ftwatch, "ingest:keras-1")
    assert ack["checkpoint"] == checkpoint
    assert ack["rule"] == "loss-plateau"
    assert ack["outcome"] == "ok"
    audit = await read(f"{ftwatch.url}/v1/actions?job_id=ingest:keras-1")
    fired = [e["firing"] for e in audit["data"] if e["record"] == "firing"]
    assert ack["firing_id"] == fired[0]["firing_id"]
    assert [f["rule"] for f in fired] == ["loss-plateau"]
    assert "3 evaluations" in fired[0]["reason"]


@pytest.mark.timeout(180)
async def test_with_ftwatch_unreachable_the_training_runs_every_epoch(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens
    code, result, stderr = await asyncio.to_thread(train, url, "keras-2", tmp_path / "ck")
    assert code == 0, stderr[-3000:]
    assert (result["epochs"], result["checkpoint"]) == (EPOCHS, None)
    assert stderr.count("is unreachable") == 1, stderr[-3000:]  # one warning, not one a batch
