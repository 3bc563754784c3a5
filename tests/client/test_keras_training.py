"""A real Keras 3 training (JAX backend, CPU) paused by ftwatch through FtwatchCallback."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.client.e2e import ROOT, paused_by_the_plateau, trainer_env
from tests.support import FtwatchProcess, free_port

EPOCHS = 100  # the limit; the plateau fires after about 4 epochs


def train(url: str, job_id: str, checkpoints: Path) -> tuple[int, dict[str, Any], str]:
    """Run tests/client/keras_run.py as its own process: exit code, its JSON, its stderr."""
    env = trainer_env(url, job_id, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
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
    job = await paused_by_the_plateau(ftwatch, "ingest:keras-1", checkpoint, stderr)
    assert job["metrics"]["valid_loss"] == job["metrics"]["val_loss"]  # raw name kept


@pytest.mark.timeout(180)
async def test_with_ftwatch_unreachable_the_training_runs_every_epoch(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens
    code, result, stderr = await asyncio.to_thread(train, url, "keras-2", tmp_path / "ck")
    assert code == 0, stderr[-3000:]
    assert (result["epochs"], result["checkpoint"]) == (EPOCHS, None)
    assert stderr.count("is unreachable") == 1, stderr[-3000:]  # one warning, not one a batch
