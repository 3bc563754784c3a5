"""A real `ftwatch run` for the client's end-to-end tests, the training children they start
(tests/client/*_run.py), and reads of what ftwatch shows afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from tests.support import FtwatchProcess, RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
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


def trainer_env(url: str, job_id: str | None, **extra: str) -> dict[str, str]:
    """A training child's environment: ftwatch's URL and the trainer's token, the job id
    (None: each reporter names its own), rendezvous and gloo on the loopback only."""
    env = {
        **os.environ,
        "FTWATCH_URL": url,
        "FTWATCH_INGEST_TOKEN": TRAINER,
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
        "GLOO_SOCKET_IFNAME": "lo",
        # Ranks share this machine's two cores (with ftwatch and Redis): one thread each.
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        **extra,
    }
    env.pop("FTWATCH_JOB_ID", None)
    if job_id is not None:
        env["FTWATCH_JOB_ID"] = job_id
    return env


def run_group(command: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run `command` from the repository's root in a process group of its own: its exit
    code and output, stderr included. A run still going at `timeout` (a rank blocked in a
    collective) fails, killed with every process it started."""
    with subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            output, _ = proc.communicate(timeout=10)
            raise AssertionError(f"still running after {timeout} s:\n{output[-3000:]}") from None
        finally:
            _kill(proc)  # whatever is left
    return proc.returncode, output


def _kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL `proc`'s group and, while it runs, its descendants: torch.distributed.run
    starts each rank in a session of its own, out of reach of the group."""
    pids = _descendants(proc.pid) if proc.poll() is None else []
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _descendants(root: int) -> list[int]:
    """The processes below `root`, from each process's parent id in /proc (Linux)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # pid (comm) state ppid ...: comm may hold spaces and parentheses.
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    level = [root]
    for _ in range(len(parents)):  # one level of the tree a turn
        level = [pid for pid, parent in parents.items() if parent in level]
        if not level:
            break
        found += level
    return found


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


async def events(proc: FtwatchProcess, job_id: str) -> list[dict[str, Any]]:
    """Every event ftwatch holds for the job (pages followed, bounded)."""
    found: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(100):
        page = await read(f"{proc.url}/v1/jobs/{job_id}/events?limit=500{cursor}")
        found += [entry["event"] for entry in page["data"]]
        if not page["next_cursor"]:
            return found
        cursor = f"&cursor={page['next_cursor']}"
    raise AssertionError(f"more than 100 pages of events for {job_id}")


def senders(found: list[dict[str, Any]]) -> set[str]:
    """The reporters that sent these events: ids are `<reporter's run>-<n>` (ftwatch's own
    start with `ftwatch-`)."""
    ids = [e["event_id"] for e in found]
    return {i.rsplit("-", 1)[0] for i in ids if not i.startswith("ftwatch-")}


async def paused_by_the_plateau(
    proc: FtwatchProcess, job_id: str, checkpoint: str, output: str = ""
) -> dict[str, Any]:
    """Assert the job is `paused` with no decision left, the trainer's one ack names
    `checkpoint` and answers the plateau rule's one firing in the audit log; the job."""
    job = await read(f"{proc.url}/v1/jobs/{job_id}")
    assert (job["status"], job["decisions"]) == ("paused", []), (job, output[-3000:])
    (ack,) = await acks(proc, job_id)
    assert (ack["checkpoint"], ack["rule"], ack["outcome"]) == (checkpoint, "loss-plateau", "ok")
    audit = await read(f"{proc.url}/v1/actions?job_id={job_id}")
    fired = [e["firing"] for e in audit["data"] if e["record"] == "firing"]
    assert [f["rule"] for f in fired] == ["loss-plateau"], fired
    assert ack["firing_id"] == fired[0]["firing_id"]
    assert "3 evaluations" in fired[0]["reason"]
    return dict(job)
