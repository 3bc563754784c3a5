"""From the ingest batch that completes a plateau to the trainer's long-poll answer.

`python -m bench.decisions [--runs N]`: real `ftwatch run` processes on a private
redis-server. Role `all` wakes the long-poll in-process; `api` + `worker` in two
processes, where the poll finds the worker's decision by re-reading Redis (at most
RECHECK_SECONDS late).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import ftwatch_processes, machine, private_redis, table, wait_healthy
from service.store.decisions import RECHECK_SECONDS

TRAINER = {"Authorization": "Bearer trainer-token"}
RULES = """
rules:
  - name: loss-plateau
    match: {provider: ingest}
    when: {plateau: {metric: valid_loss, mode: min, patience: 2, min_delta: 0.01}}
    do: [pause]
"""
LOSSES = [1.0, 0.5, 0.5, 0.5]


def _batch(job: str) -> dict[str, Any]:
    events = [
        {
            "job_id": job,
            "event_id": f"s{n}",
            "created_at": 1_700_000_000 + n,
            "type": "metrics",
            "metrics": {"step": n, "valid_loss": loss},
        }
        for n, loss in enumerate(LOSSES)
    ]
    return {"events": events}


async def _one(http: aiohttp.ClientSession, url: str, job: str) -> float:
    """Seconds from the plateau's batch to the long-poll's decision."""
    started = time.monotonic()
    async with http.post(f"{url}/v1/ingest/events", json=_batch(job), headers=TRAINER) as r:
        assert r.status == 200, await r.text()
    async with http.get(f"{url}/v1/jobs/{job}/decision?wait=30", headers=TRAINER) as r:
        assert r.status == 200, await r.text()
    return time.monotonic() - started


async def measure(roles: list[str], runs: int, tmp: Path) -> list[float]:
    rules = tmp / "rules.yaml"
    rules.write_text(RULES)
    with private_redis() as redis:
        env = {
            "FTWATCH_REDIS_URL": redis.url,
            "FTWATCH_RULES": str(rules),
            "FTWATCH_API_TOKEN": "admin-token",
            "FTWATCH_INGEST_TOKEN": "trainer-token",
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        }
        with ftwatch_processes(env, roles, tmp) as procs:
            await wait_healthy(procs)
            url = procs[0].url  # the first role serves the API
            async with aiohttp.ClientSession() as http:
                return [await _one(http, url, f"{roles[0]}-run-{n}") for n in range(runs)]


def _row(name: str, seconds: list[float]) -> list[object]:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return [name, len(seconds), statistics.median(seconds) * 1000, p95 * 1000, ordered[-1] * 1000]


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.decisions")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    print(f"$ python -m bench.decisions --runs {args.runs}\n{machine()}\n")
    rows = []
    for roles in (["all"], ["api", "worker"]):
        with tempfile.TemporaryDirectory(prefix="ftwatch-bench-") as tmp:
            rows.append(_row(" + ".join(roles), await measure(roles, args.runs, Path(tmp))))
    headers = ["roles", "runs", "p50 ms", "p95 ms", "max ms"]
    print(table(headers, rows))
    print(f"\nCross-process polls re-read Redis every {RECHECK_SECONDS:g} s.")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
