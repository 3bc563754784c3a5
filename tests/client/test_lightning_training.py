"""Real Lightning trainings (torch on CPU) paused by ftwatch through FtwatchCallback: one
process, and two ranks under `strategy="ddp"` (gloo on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.client.e2e import TRAINER, acks, read, running
from tests.support import FtwatchProcess, RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
MAX_EPOCHS = 100  # the limit; the plateau fires after about 4 epochs


@pytest.fixture
async def ftwatch(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[FtwatchProcess]:
    async with running(redis_server, tmp_path) as proc:
        yield proc


def train(url: str, out: Path, devices: int, job_id: str | None) -> tuple[int, list[Any], str]:
    """Run tests/client/lightning_run.py (and the ranks Lightning starts from it) in a
    process group of its own: exit code, each rank's JSON, the output."""
    out.mkdir(parents=True)
    env = {
        **os.environ,
        "FTWATCH_URL": url,
        "FTWATCH_INGEST_TOKEN": TRAINER,
        # DDP's rendezvous and gloo's sockets on the loopback only.
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
        "GLOO_SOCKET_IFNAME": "lo",
        "OMP_NUM_THREADS": "1",  # two ranks share this machine's cores
    }
    env.pop("FTWATCH_JOB_ID", None)
    if job_id is not None:
        env["FTWATCH_JOB_ID"] = job_id
    command = [sys.executable, "-m", "tests.client.lightning_run", str(MAX_EPOCHS), str(out)]
    with subprocess.Popen(
        [*command, str(devices)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own group: the ranks Lightning starts go with it
    ) as proc:
        try:
            output, _ = proc.communicate(timeout=150)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
    ranks = [json.loads(p.read_text()) for p in sorted(out.glob("rank*.json"))]
    return proc.returncode, ranks, output


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
    job = await read(f"{ftwatch.url}/v1/jobs/ingest:lightning-1")
    assert (job["status"], job["decisions"]) == ("paused", []), (job, output[-3000:])
    assert job["metrics"]["valid_loss"] == job["metrics"]["val_loss"]  # raw name kept
    (ack,) = await acks(ftwatch, "ingest:lightning-1")
    assert (ack["checkpoint"], ack["rule"], ack["outcome"]) == (checkpoint, "loss-plateau", "ok")
    audit = await read(f"{ftwatch.url}/v1/actions?job_id=ingest:lightning-1")
    fired = [e["firing"] for e in audit["data"] if e["record"] == "firing"]
    assert ack["firing_id"] == fired[0]["firing_id"]
    assert [f["rule"] for f in fired] == ["loss-plateau"]
    assert "3 evaluations" in fired[0]["reason"]


async def _events(proc: FtwatchProcess, job: str) -> list[dict[str, Any]]:
    """Every event ftwatch holds for `job` (pages followed, bounded)."""
    events: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(100):
        page = await read(f"{proc.url}/v1/jobs/{job}/events?limit=500{cursor}")
        events += [entry["event"] for entry in page["data"]]
        if not page["next_cursor"]:
            return events
        cursor = f"&cursor={page['next_cursor']}"
    raise AssertionError(f"more than 100 pages of events for {job}")


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
    # Event ids are `<reporter's run>-<n>` (ftwatch's own start with `ftwatch-`).
    ids = [e["event_id"] for e in await _events(ftwatch, job)]
    senders = {i.rsplit("-", 1)[0] for i in ids if not i.startswith("ftwatch-")}
    assert len(senders) == 1, senders
    view = await read(f"{ftwatch.url}/v1/jobs/{job}")
    assert view["status"] == "paused", view
    (ack,) = await acks(ftwatch, job)
    assert ack["checkpoint"] == ranks[0]["checkpoint"]
