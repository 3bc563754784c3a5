"""Upstream efficiency and cost growth: poller replicas against 100 … 10,000 simulated jobs.

Each size gets a fresh redis-server and simulator child process (its CPU measured apart),
a fleet of 70% running jobs (a step every ~30 s), 10% queued and 20% finished, and
`ftwatch run --role poller` replicas under FTWATCH_MAX_REQUESTS_PER_SECOND. A stand-in
for the rule workers acknowledges the stream, so only the poller is measured. After a
warm-up (every job polled once) it measures a window: requests/s, requests per ingested
event, poller CPU seconds per 1,000 events, peak RSS, Redis memory, and polls per job and
minute by the job's status (terminal jobs must get none).

Run: python -m bench.scale [--jobs 100,1000,10000] [--two-replicas 10000] [--window 45]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from bench.common import (
    UsageProbe,
    command_line,
    ftwatch_processes,
    machine,
    private_redis,
    simulator,
    table,
    wait_healthy,
)
from bench.fleet import fleet, kind_of
from service.models.ident import DEFAULT_PROVIDER, job_key
from service.store import keys
from service.store.connection import connect_redis
from tests.support import FtwatchProcess

KINDS = ("running", "queued", "finished")


@dataclass
class Config:
    budget: float
    interval: float
    window: float
    step_period: float
    discovery: float


@dataclass
class Row:
    jobs: int
    replicas: int
    requests: float = 0.0
    events: int = 0
    window: float = 0.0
    poller_cpu: float = 0.0
    peak_rss_mb: float = 0.0
    sim_cpu: float = 0.0
    redis_mb: float = 0.0
    polls: dict[str, float] = field(default_factory=dict)  # per job and minute, by kind
    split: list[float] = field(default_factory=list)  # each replica's share of requests
    warmup_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.window

    @property
    def per_event(self) -> float:
        return self.requests / self.events if self.events else float("nan")

    @property
    def cpu_per_1k(self) -> float:
        return self.poller_cpu / self.events * 1000 if self.events else float("nan")


class Drain:
    """Stands in for the rule workers: reads `ftwatch:events` as `rules`, acknowledges all."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client
        self.count = 0
        self.stopped = False  # a flag, not cancel: a cancelled blocking read can hang redis-py

    async def run(self) -> None:
        await self._redis.xgroup_create(keys.EVENTS_STREAM, "rules", id="0", mkstream=True)
        while not self.stopped:
            reply: Any = await self._redis.xreadgroup(
                "rules", "bench", {keys.EVENTS_STREAM: ">"}, count=2000, block=200
            )
            entries = reply[0][1] if reply else []
            if entries:
                await self._redis.xack(keys.EVENTS_STREAM, "rules", *[e[0] for e in entries])
                self.count += len(entries)


async def _get(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as resp:
        return await resp.json()


async def _polled_all(client: aioredis.Redis, ids: list[str]) -> bool:
    async with client.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hexists(keys.job(job_key(DEFAULT_PROVIDER, job_id)), "status")
        return all(await pipe.execute())


async def _requests_by_replica(
    http: aiohttp.ClientSession, procs: list[FtwatchProcess]
) -> list[float]:
    out = []
    for proc in procs:
        async with http.get(f"{proc.url}/metrics") as resp:
            text = await resp.text()
        out.append(
            sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("ftwatch_upstream_requests_total{")
            )
        )
    return out


def _alive(procs: list[FtwatchProcess]) -> None:
    for proc in procs:
        if proc.proc is None or proc.proc.poll() is not None:
            raise RuntimeError(f"a poller exited during the run:\n{proc.log_tail()}")


def _poll_counts(polls: Any) -> Counter[str]:
    total: Counter[str] = Counter()
    for endpoint in ("get_job", "list_events"):
        total.update(polls[endpoint])
    return total


async def run_size(n_jobs: int, replicas: int, cfg: Config) -> Row:
    """One fleet size: warm up, then measure a window."""
    scenario = fleet(n_jobs, seed=n_jobs, step_period=cfg.step_period)
    kinds = {str(spec.id): kind_of(spec) for spec in scenario.jobs}
    active = [job for job, kind in kinds.items() if kind != "finished"]
    row = Row(n_jobs, replicas)
    with (
        tempfile.TemporaryDirectory(prefix="ftwatch-scale-") as tmp,
        private_redis() as server,
        simulator(scenario.model_dump_json(), Path(tmp)) as sim,
    ):
        client = connect_redis(server.url)
        drain = Drain(client)
        drain_task = asyncio.create_task(drain.run())
        env = {
            "FTWATCH_REDIS_URL": server.url,
            "OPENAI_BASE_URL": f"{sim.url}/v1",
            "OPENAI_API_KEY": "sk-bench",
            "FTWATCH_POLL_INTERVAL": str(cfg.interval),
            "FTWATCH_DISCOVERY_INTERVAL": str(cfg.discovery),
            "FTWATCH_MAX_REQUESTS_PER_SECOND": str(cfg.budget),
            "FTWATCH_LOG_LEVEL": "warning",
        }
        async with aiohttp.ClientSession() as http:
            with ftwatch_processes(env, ["poller"] * replicas, Path(tmp)) as procs:
                await wait_healthy(procs)
                started = time.monotonic()
                while not await _polled_all(client, active):
                    _alive(procs)
                    await asyncio.sleep(1.0)
                row.warmup_s = time.monotonic() - started
                run = _Run(http, sim.url, procs, drain, sim.proc, kinds)
                await _measure(row, cfg, run)
            info: Any = await client.info("memory")
            row.redis_mb = int(info["used_memory"]) / 2**20
        drain.stopped = True
        await asyncio.gather(drain_task, return_exceptions=True)
        await client.aclose()
    return row


@dataclass
class _Run:
    """The live parts of one size's run."""

    http: aiohttp.ClientSession
    sim_url: str
    procs: list[FtwatchProcess]
    drain: Drain
    sim_proc: Any
    kinds: dict[str, str]


async def _measure(row: Row, cfg: Config, run: _Run) -> None:
    http, sim_url, procs, drain, kinds = run.http, run.sim_url, run.procs, run.drain, run.kinds
    sim_proc = run.sim_proc
    pids = [p.proc.pid for p in procs if p.proc]
    probe = UsageProbe([*pids, sim_proc.pid])
    stats0 = await _get(http, f"{sim_url}/_sim/stats")
    polls0 = _poll_counts(await _get(http, f"{sim_url}/_bench/polls"))
    split0 = await _requests_by_replica(http, procs)
    events0, t0 = drain.count, time.monotonic()
    probe.start()
    await asyncio.sleep(cfg.window)
    usage = await probe.stop()
    row.window = time.monotonic() - t0
    row.events = drain.count - events0
    stats1 = await _get(http, f"{sim_url}/_sim/stats")
    polls1 = _poll_counts(await _get(http, f"{sim_url}/_bench/polls"))
    split1 = await _requests_by_replica(http, procs)
    row.requests = stats1["total"] - stats0["total"]
    row.poller_cpu = sum(u.cpu_s for u in usage[:-1])
    row.peak_rss_mb = max(u.peak_rss_mb for u in usage[:-1])
    row.sim_cpu = usage[-1].cpu_s / row.window
    shares = [b - a for a, b in zip(split0, split1, strict=True)]
    row.split = [s / sum(shares) for s in shares] if sum(shares) else []
    minutes = row.window / 60
    for kind in KINDS:
        jobs = [j for j, k in kinds.items() if k == kind]
        polled = sum(polls1[j] - polls0[j] for j in jobs)
        row.polls[kind] = polled / len(jobs) / minutes if jobs else 0.0


def report(rows: list[Row], cfg: Config) -> str:
    headers = [
        "jobs",
        "replicas",
        "req/s",
        "req/event",
        "poller CPU s/1k events",
        "peak RSS MB",
        "Redis MB",
        "polls/job/min running · queued · finished",
        "simulator CPU",
        "request split",
    ]
    body = [
        [
            r.jobs,
            r.replicas,
            r.rate,
            r.per_event,
            r.cpu_per_1k,
            r.peak_rss_mb,
            r.redis_mb,
            " · ".join(f"{r.polls[k]:.2f}" for k in KINDS),
            f"{r.sim_cpu:.0%}",
            " / ".join(f"{s:.0%}" for s in r.split),
        ]
        for r in rows
    ]
    lines = [
        f"command: {command_line()}",
        f"machine: {machine()}",
        f"budget {cfg.budget:g} req/s, FTWATCH_POLL_INTERVAL={cfg.interval:g}s, "
        f"discovery every {cfg.discovery:g}s, steps every ~{cfg.step_period:g}s, "
        f"window {cfg.window:g}s after warm-up",
        "",
        table(headers, body),
    ]
    lines += growth(rows)
    return "\n".join(lines)


def growth(rows: list[Row]) -> list[str]:
    """Cost growth between the smallest and largest single-replica runs."""
    single = sorted((r for r in rows if r.replicas == 1), key=lambda r: r.jobs)
    if len(single) < 2:
        return []
    small, large = single[0], single[-1]
    factor = large.jobs / small.jobs
    per_job_kb = (large.peak_rss_mb - small.peak_rss_mb) * 1024 / (large.jobs - small.jobs)
    redis_kb = (large.redis_mb - small.redis_mb) * 1024 / (large.jobs - small.jobs)
    return [
        "",
        f"growth {small.jobs:,} → {large.jobs:,} jobs (x{factor:g}): requests/s x"
        f"{large.rate / small.rate:.1f}, poller CPU x{large.poller_cpu / small.poller_cpu:.1f}, "
        f"peak RSS x{large.peak_rss_mb / small.peak_rss_mb:.2f}",
        f"memory per watched job: {per_job_kb:.1f} KB poller RSS, {redis_kb:.1f} KB Redis",
        "warm-up (every job polled once): "
        + ", ".join(f"{r.jobs:,} jobs x{r.replicas}: {r.warmup_s:.0f}s" for r in rows),
    ]


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", default="100,1000,10000")
    parser.add_argument("--two-replicas", default="10000", help="sizes also run with 2 replicas")
    parser.add_argument("--budget", type=float, default=100.0)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--discovery", type=float, default=30.0)
    parser.add_argument("--step-period", type=float, default=30.0)
    parser.add_argument("--window", type=float, default=45.0)
    args = parser.parse_args(argv)
    cfg = Config(args.budget, args.interval, args.window, args.step_period, args.discovery)
    sizes = [int(x) for x in args.jobs.split(",") if x]
    doubled = {int(x) for x in args.two_replicas.split(",") if x}
    rows = []
    for size in sizes:
        rows.append(await run_size(size, 1, cfg))
        if size in doubled:
            rows.append(await run_size(size, 2, cfg))
    print(report(rows, cfg))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
