"""A real `ftwatch run` stopped with SIGTERM: exit 0, its leases freed, no error logged."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis.asyncio as aioredis

from service.store import keys
from tests.integration.conftest import ManualSim, StartFtwatch
from tests.integration.test_poller_process import running_jobs
from tests.support import FtwatchProcess, eventually, zscores

LEASES = "ftwatch:lease:*"
POLL_INTERVAL = 0.2


async def _job_leased(redis: aioredis.Redis) -> bool:
    return bool(await redis.keys(keys.LEASE_PREFIX + "*"))


def _errors(proc: FtwatchProcess) -> list[dict[str, object]]:
    return [r for r in proc.log_records() if r.get("level") in {"error", "critical"}]


async def test_sigterm_drains_frees_every_lease_and_logs_no_error(
    redis: aioredis.Redis, manual_sim: ManualSim, start_ftwatch: StartFtwatch
) -> None:
    # Slow upstream answers keep polls (and their leases) in flight when SIGTERM lands;
    # a long discovery interval makes the discovery lease outlive the process.
    await manual_sim.set_faults(latency_ms=300)
    proc = start_ftwatch("replica-a", "all", {"FTWATCH_DISCOVERY_INTERVAL": "30"})
    await proc.wait_healthy()
    async with running_jobs(manual_sim):
        await eventually(lambda: _job_leased(redis), message="a job leased")
        assert await redis.exists(keys.discovery_lease("openai"))
        # In a thread: the simulator answers on this loop while the polls drain.
        assert await asyncio.to_thread(proc.terminate, 30.0) == 0, proc.log_tail()
    stopped_ms = time.time() * 1000
    assert await redis.keys(LEASES) == []
    # Each job is due at its next poll, not at a lease's expiry: another replica takes it now.
    for _, due_ms in await zscores(redis, keys.SCHEDULE):
        assert due_ms <= stopped_ms + POLL_INTERVAL * 1000
    assert _errors(proc) == [], proc.log_tail()
    assert any(r.get("event") == "shutting_down" for r in proc.log_records())


async def test_sigterm_to_the_process_group_with_embedded_redis_logs_no_error(
    tmp_path: Path, manual_sim: ManualSim
) -> None:
    # `timeout`, a shell's job control and some supervisors signal the whole group: the
    # embedded redis-server must not die under the loops before they have stopped.
    proc = FtwatchProcess(
        {
            "FTWATCH_DATA_DIR": str(tmp_path / "data"),
            "OPENAI_BASE_URL": manual_sim.base_url,
            "OPENAI_API_KEY": "sk-test",
            "FTWATCH_POLL_INTERVAL": str(POLL_INTERVAL),
        },
        tmp_path / "run.log",
    )
    proc.env.pop("FTWATCH_REDIS_URL", None)
    _start_group_leader(proc)
    assert proc.proc is not None
    try:
        await proc.wait_healthy()
        async with running_jobs(manual_sim):
            await eventually(lambda: _polled(proc), message="jobs polled")
            os.killpg(proc.proc.pid, signal.SIGTERM)
            assert await asyncio.to_thread(proc.proc.wait, 30) == 0, proc.log_tail()
    finally:
        proc.kill()
    assert _errors(proc) == [], proc.log_tail()


async def _polled(proc: FtwatchProcess) -> bool:
    return any(r.get("event") == "jobs_discovered" for r in proc.log_records())


def _start_group_leader(proc: FtwatchProcess) -> None:
    """Start `proc` as the leader of a new process group, as a shell starts a job."""
    with proc.log_path.open("ab") as log:
        proc.proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "run"],
            env=proc.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
