"""Real Hugging Face `Trainer` trainings (torch on CPU) paused by ftwatch through
FtwatchCallback: one process, two under `torch.distributed.run` (gloo on 127.0.0.1), and
one process with ftwatch unreachable."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.client.e2e import events, paused_by_the_plateau, read, run_group, senders, trainer_env
from tests.support import FtwatchProcess, free_port

MAX_STEPS = 1000  # the limit; the plateau fires after 4 evaluations (8 steps)
SYNC_EVERY = 10  # FtwatchCallback's default: where several ranks look at the decision


def train(url: str, out: Path, job_id: str, ranks: int = 1) -> tuple[int, list[Any], str]:
    """Run tests/client/transformers_run.py, alone or as `ranks` processes under
    torch.distributed.run, in a process group of its own: exit code, each rank's JSON, the
    output."""
    out.mkdir(parents=True)
    script = ["tests.client.transformers_run", str(MAX_STEPS), str(out)]
    command = [sys.executable, "-m", *script]
    env = trainer_env(url, job_id)
    if ranks > 1:
        launcher = ["-m", "torch.distributed.run", f"--nproc-per-node={ranks}"]
        where = ["--master-addr=127.0.0.1", f"--master-port={env['MASTER_PORT']}"]
        command = [sys.executable, *launcher, *where, "--module", *script]
    code, output = run_group(command, env, timeout=120)
    return code, [json.loads(p.read_text()) for p in sorted(out.glob("rank*.json"))], output


def saved(checkpoint: Path) -> tuple[int, set[str]]:
    """The step trainer_state.json records in a checkpoint directory, and its files."""
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    return state["global_step"], {p.name for p in checkpoint.iterdir()}


@pytest.mark.timeout(180)
async def test_a_plateau_on_eval_loss_pauses_the_trainer_with_its_own_checkpoint(
    ftwatch: FtwatchProcess, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, ranks, output = await asyncio.to_thread(train, ftwatch.url, out, "hf-1")
    assert code == 0, output[-3000:]
    ((result,),) = (ranks,)
    assert result["acted"] == "pause" and result["step"] < MAX_STEPS / 2, (result, output[-3000:])
    # The Trainer's own checkpoint-<step>, the only one (save_strategy="no"), at its last step.
    checkpoint = out / f"checkpoint-{result['step']}"
    assert (result["checkpoint"], result["saved"]) == (str(checkpoint), [checkpoint.name])
    step, files = saved(checkpoint)
    assert step == result["step"] and {"model.safetensors", "optimizer.pt"} <= files, files
    job = await paused_by_the_plateau(ftwatch, "ingest:hf-1", str(checkpoint), output)
    assert job["metrics"]["valid_loss"] == job["metrics"]["eval_loss"]  # raw name kept


@pytest.mark.timeout(180)
async def test_with_ftwatch_unreachable_the_trainer_runs_every_step(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens
    code, ranks, output = await asyncio.to_thread(train, url, tmp_path / "out", "hf-2")
    assert code == 0, output[-3000:]
    ((result,),) = (ranks,)
    assert (result["step"], result["acted"], result["saved"]) == (MAX_STEPS, None, []), result
    assert output.count("is unreachable") == 1, output[-3000:]  # one warning, not one a step


@pytest.mark.timeout(240)
async def test_two_ranks_one_reporter_and_both_save_and_stop_at_the_same_step(
    ftwatch: FtwatchProcess, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    # Both ranks get FTWATCH_URL and the job id: a second writer would show in its events.
    code, ranks, output = await asyncio.to_thread(train, ftwatch.url, out, "hf-ddp", 2)
    assert code == 0, output[-3000:]
    assert [(r["rank"], r["world"]) for r in ranks] == [(0, 2), (1, 2)], ranks
    assert [r["reporter"] for r in ranks] == [True, False], ranks  # rank 0 alone reports
    # The decision reached both ranks at the same broadcast: same step, same checkpoint.
    assert [r["acted"] for r in ranks] == ["pause", "pause"], (ranks, output[-3000:])
    (step,) = {r["step"] for r in ranks}
    assert step % SYNC_EVERY == 0 and step < MAX_STEPS / 2, ranks
    checkpoint = out / f"checkpoint-{step}"
    assert {r["checkpoint"] for r in ranks} == {str(checkpoint)}, ranks
    # Each rank ran the Trainer's save: rank 0 the weights and state, each its RNG state.
    recorded, files = saved(checkpoint)
    assert recorded == step and {"rng_state_0.pth", "rng_state_1.pth"} <= files, files
    jobs = await read(f"{ftwatch.url}/v1/jobs?provider=ingest")
    assert [j["job_id"] for j in jobs["data"]] == ["hf-ddp"], jobs  # one job
    found = await events(ftwatch, "ingest:hf-ddp")
    assert len(senders(found)) == 1, senders(found)  # one reporter wrote them all
    evaluated = [e["data"]["step"] for e in found if "valid_loss" in (e["data"] or {})]
    assert sorted(evaluated) == ranks[0]["evaluated"], evaluated  # each evaluation once
    await paused_by_the_plateau(ftwatch, "ingest:hf-ddp", str(checkpoint), output)
