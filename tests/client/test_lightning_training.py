"""Real Lightning trainings (torch on CPU) paused by ftwatch through FtwatchCallback: one
process, and two ranks under `strategy="ddp"` (gloo on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.client.e2e import events, paused_by_the_plateau, read, run_group, senders, trainer_env
from tests.support import FtwatchProcess

MAX_EPOCHS = 100  # the limit; the plateau fires after about 4 epochs


def train(url: str, out: Path, devices: int, job_id: str | None) -> tuple[int, list[Any], str]:
    """Run tests/client/lightning_run.py (and the ranks Lightning starts from it) in a
    process group of its own: exit code, each rank's JSON, the output."""
    out.mkdir(parents=True)
    command = [sys.executable, "-m", "tests.client.lightning_run", str(MAX_EPOCHS), str(out)]
    code, output = run_group([*command, str(devices)], trainer_env(url, job_id), timeout=150)
    ranks = [json.loads(p.read_text()) for p in sorted(out.glob("rank*.json"))]
    return code, ranks, output


@pytest.mark.timeout(240)
async def test_a_plateau_pauses_the_training_with_a_lightning_checkpoint(
    ftwatch: FtwatchProcess, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, ranks, output = await asyncio.to_thread(train, ftwatch.url, out, 1, "lightning-1")
    assert code == 0, output[-3000:]
    ((result,),) = (ranks,)
    assert result["epochs"] < MAX_EPOCHS / 2, (result, output[-3000:])  # well before its limit
    assert result["acted"] == "pause"
    checkpoint = result["checkpoint"]
    assert checkpoint.startswith(str(out)) and checkpoint.endswith(".ckpt"), result
    # trainer.save_checkpoint's own file: the weights and the step it stopped at.
    assert result["has_weights"] and result["checkpoint_step"] == result["step"], result
    job = await paused_by_the_plateau(ftwatch, "ingest:lightning-1", checkpoint, output)
    assert job["metrics"]["valid_loss"] == job["metrics"]["val_loss"]  # raw name kept


@pytest.mark.timeout(300)
async def test_two_ddp_ranks_one_reporter_and_every_rank_stops_at_the_same_step(
    ftwatch: FtwatchProcess, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    # No FTWATCH_JOB_ID: each rank would name a job of its own if it talked to ftwatch.
    code, ranks, output = await asyncio.to_thread(train, ftwatch.url, out, 2, None)
    assert code == 0, output[-3000:]
    assert [r["rank"] for r in ranks] == [0, 1] and {r["world"] for r in ranks} == {2}, ranks
    assert [r["reporter"] for r in ranks] == [True, False], ranks  # rank 0 alone reports
    # The decision reached both ranks: same step, same checkpoint, well before the limit.
    assert {r["acted"] for r in ranks} == {"pause"}, ranks
    assert len({(r["step"], r["epochs"], r["checkpoint"]) for r in ranks}) == 1, ranks
    assert ranks[0]["epochs"] < MAX_EPOCHS / 2 and ranks[0]["has_weights"], ranks
    jobs = await read(f"{ftwatch.url}/v1/jobs?provider=ingest")
    job = f"ingest:{ranks[0]['job_id']}"
    (only,) = jobs["data"]  # one reporter, one job
    assert only["job_id"] in (job, ranks[0]["job_id"]), jobs
    assert len(senders(await events(ftwatch, job))) == 1
    await paused_by_the_plateau(ftwatch, job, ranks[0]["checkpoint"], output)
