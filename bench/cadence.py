"""Cadence-aware polling against the naive openai-SDK watcher, side by side at equal settings.

Fleets of running jobs on the simulator (a child process); each side watches a fresh copy
of the same scenario with the same poll interval:
- sparse: 60 jobs, each stepping every 6-8 s (its own period), every step +-10% of it;
- dense: 60 jobs, each stepping every ~0.5 s, the same jitter.
Each side watches for a warm-up, then a measured window: the simulator counts every
request, and every event that became visible during the window is matched to when the
watcher first had it (ftwatch: its entry on ftwatch:events; naive: the pass that listed
it). The tail after the window lets the window's last events be read.
- ftwatch: `ftwatch run --role poller` (FTWATCH_MAX_POLL_FACTOR as given; 1 = as before);
- naive: bench/naive.py (retrieve + list 100 events per job per interval, 16 in flight).

With `--budget R` (FTWATCH_MAX_REQUESTS_PER_SECOND) it compares ftwatch before and after
instead: FTWATCH_MAX_POLL_FACTOR=1 (every interval, as before the model) beside the given
factor, both at once, each with its own redis-server and simulator, a stand-in for the
rule workers draining the stream (bench.scale.Drain). The window starts once every job was
polled (the budget paces that), plus `--warmup`; the poller's and the simulator's CPU are
measured apart, and the load average is printed. The naive watcher, which knows no
budget, is left out. The `rft` fleet is the sparse one x20 (a step every 120-160 s):
python -m bench.cadence --fleet rft --jobs 10000 --budget 100 --interval 30 --warmup 10
    --window 90

Run: python -m bench.cadence [--fleet sparse|dense|rft|both] [--jobs 60] [--interval 2]
     [--warmup 30] [--window 60] [--max-poll-factor 6] [--also-factor-1] [--budget R]
     [--tail S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    SimProcess,
    UsageProbe,
    command_line,
    ftwatch_processes,
    machine,
    percentile,
    private_redis,
    simulator,
    table,
    wait_healthy,
)
from bench.fleet import FOREVER_STEPS
from bench.latency import naive_process
from bench.scale import Drain
from service.models.ident import DEFAULT_PROVIDER, job_key
from service.store import keys
from service.store.connection import connect_redis
from simulator.scenario import JobSpec, Scenario, job_id_for
from tests.support import FtwatchProcess

# rft: the sparse fleet x20, an RFT step every 2-2.7 minutes (fleets of thousands).
FLEETS = {"sparse": (6.0, 8.0), "dense": (0.45, 0.55), "rft": (120.0, 160.0)}
JITTER = 0.1


@dataclass
class Side:
    name: str
    window: float = 0.0
    requests: float = 0.0
    latencies: list[float] = field(default_factory=list)
    missed: int = 0
    outcomes: dict[str, float] = field(default_factory=dict)
    stretch: float = 1.0  # the budget's stretch at the window's end
    warmup_s: float = 0.0  # until every job was polled once
    poller_cpu: float = math.nan  # share of a core over the window
    sim_cpu: float = math.nan

    @property
    def rate(self) -> float:
        return self.requests / self.window if self.window else 0.0


def cadence_fleet(jobs: int, period: tuple[float, float], seed: int = 5) -> Scenario:
    """`jobs` running jobs, each with its own step period in `period`, each step jittered."""
    rng = random.Random(seed)
    specs = []
    for index in range(jobs):
        step = round(rng.uniform(*period), 3)
        specs.append(
            JobSpec(
                id=job_id_for(seed, index),
                method=rng.choice(("reinforcement", "supervised")),
                step_period=step,
                step_jitter=JITTER,
                start_after=0.0,
                total_steps=FOREVER_STEPS,
                elapsed=step * rng.uniform(3, 6),  # a few steps already visible
            )
        )
    return Scenario(seed=seed, jobs=specs)


async def _get(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as resp:
        return await resp.json()


async def _visible(http: aiohttp.ClientSession, sim_url: str, ids: list[str]) -> dict[str, float]:
    """Every event id of the jobs → the wall time the simulator made it visible."""
    out: dict[str, float] = {}
    gate = asyncio.Semaphore(16)  # 10,000 jobs one at a time would take minutes

    async def one(job_id: str) -> None:
        async with gate:
            rows = (await _get(http, f"{sim_url}/_sim/jobs/{job_id}/visible"))["data"]
        for row in rows:
            out[str(row["id"])] = float(row["visible_at"])

    await asyncio.gather(*(one(job_id) for job_id in ids))
    return out


async def _window(http: aiohttp.ClientSession, sim_url: str, args: Any) -> tuple[float, float]:
    """Sleep through the measured window; its start (wall) and the requests it saw."""
    before = (await _get(http, f"{sim_url}/_sim/stats"))["total"]
    started, t0 = time.time(), time.monotonic()
    await asyncio.sleep(args.window)
    after = (await _get(http, f"{sim_url}/_sim/stats"))["total"]
    return started, float(after - before) / (time.monotonic() - t0) * args.window


def _match(side: Side, visible: dict[str, float], seen: dict[str, float], span: Any) -> None:
    start, end = span
    for event_id, at in visible.items():
        if start <= at <= end:
            if event_id in seen:
                side.latencies.append(max(0.0, seen[event_id] - at))
            else:
                side.missed += 1


async def _stream_seen(redis_url: str) -> dict[str, float]:
    """Event id → when ftwatch appended it to ftwatch:events (the entry's time)."""
    client = connect_redis(redis_url)
    try:
        entries: Any = await client.xrange(keys.EVENTS_STREAM)
    finally:
        await client.aclose()
    seen: dict[str, float] = {}
    for entry_id, fields in entries:
        event_id = json.loads(fields["e"])["event_id"]
        seen.setdefault(event_id, int(str(entry_id).split("-")[0]) / 1000)
    return seen


def _predictions(metrics_text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in metrics_text.splitlines():
        if line.startswith("ftwatch_poll_predictions_total{"):
            outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
            out[outcome] = float(line.rsplit(" ", 1)[1])
    return out


async def run_ftwatch(scenario: Scenario, args: Any, factor: float) -> Side:
    side = Side(f"ftwatch (FTWATCH_MAX_POLL_FACTOR={factor:g})")
    ids = [str(spec.id) for spec in scenario.jobs]
    with tempfile.TemporaryDirectory(prefix="ftwatch-cad-") as tmp, private_redis() as server:
        rules = Path(tmp) / "rules.yaml"
        rules.write_text("rules: []\n")
        with simulator(scenario.model_dump_json(), Path(tmp)) as sim:
            env = _env(server.url, sim.url, rules, args, factor)
            async with aiohttp.ClientSession() as http:
                with ftwatch_processes(env, ["poller"], Path(tmp)) as procs:
                    await wait_healthy(procs)
                    await asyncio.sleep(args.warmup)
                    start, side.requests = await _window(http, sim.url, args)
                    side.window = args.window
                    await asyncio.sleep(args.interval * factor + 2)  # the window's last events
                    async with http.get(f"{procs[0].url}/metrics") as resp:
                        side.outcomes = _predictions(await resp.text())
                visible = await _visible(http, sim.url, ids)
            _match(side, visible, await _stream_seen(server.url), (start, start + args.window))
    return side


def _env(redis_url: str, sim_url: str, rules: Path, args: Any, factor: float) -> dict[str, str]:
    env = {
        "FTWATCH_REDIS_URL": redis_url,
        "OPENAI_BASE_URL": f"{sim_url}/v1",
        "OPENAI_API_KEY": "sk-bench",
        "FTWATCH_POLL_INTERVAL": str(args.interval),
        "FTWATCH_MAX_POLL_FACTOR": str(factor),
        "FTWATCH_RULES": str(rules),
        "FTWATCH_LOG_LEVEL": "warning",
    }
    if getattr(args, "budget", None):
        env["FTWATCH_MAX_REQUESTS_PER_SECOND"] = str(args.budget)
    if getattr(args, "concurrency", None):
        env["FTWATCH_POLL_CONCURRENCY"] = str(args.concurrency)
    return env


async def _polled_all(client: Any, ids: list[str], procs: list[FtwatchProcess]) -> float:
    """Wait until every job was polled once (its hash has a status); the seconds it took."""
    started = time.monotonic()
    pending = [keys.job(job_key(DEFAULT_PROVIDER, job_id)) for job_id in ids]
    while pending:
        if any(p.proc is None or p.proc.poll() is not None for p in procs):
            raise RuntimeError(f"the poller exited:\n{procs[0].log_tail()}")
        async with client.pipeline(transaction=False) as pipe:
            for key in pending:
                pipe.hexists(key, "status")
            done = await pipe.execute()
        pending = [key for key, polled in zip(pending, done, strict=True) if not polled]
        await asyncio.sleep(1.0 if pending else 0.0)
    return time.monotonic() - started


async def _stretch(client: Any) -> float:
    raw = await client.get(keys.poll_stretch(DEFAULT_PROVIDER))
    return float(raw) if raw else 1.0


async def _scrape(http: aiohttp.ClientSession, url: str) -> dict[str, float]:
    async with http.get(f"{url}/metrics") as resp:
        return _predictions(await resp.text())


async def _budgeted_window(
    http: aiohttp.ClientSession, sim: SimProcess, proc: FtwatchProcess, side: Side, args: Any
) -> tuple[float, float]:
    """The measured window with CPU probes on the poller and the simulator; its span."""
    assert proc.proc is not None and sim.proc is not None
    probe = UsageProbe([proc.proc.pid, sim.proc.pid])
    probe.start()
    start, side.requests = await _window(http, sim.url, args)
    poller, served = await probe.stop()
    side.window = args.window
    side.poller_cpu, side.sim_cpu = poller.cpu_s / args.window, served.cpu_s / args.window
    return start, start + args.window


async def run_budgeted(scenario: Scenario, args: Any, factor: float) -> Side:
    """ftwatch alone under FTWATCH_MAX_REQUESTS_PER_SECOND, the stream drained as by workers."""
    side = Side(f"ftwatch (FTWATCH_MAX_POLL_FACTOR={factor:g})")
    ids = [str(spec.id) for spec in scenario.jobs]
    with (
        tempfile.TemporaryDirectory(prefix="ftwatch-cadb-") as tmp,
        private_redis() as server,
        simulator(scenario.model_dump_json(), Path(tmp)) as sim,
    ):
        rules = Path(tmp) / "rules.yaml"
        rules.write_text("rules: []\n")
        client = connect_redis(server.url)
        drain = Drain(client)
        draining = asyncio.create_task(drain.run())
        try:
            async with aiohttp.ClientSession() as http:
                env = _env(server.url, sim.url, rules, args, factor)
                with ftwatch_processes(env, ["poller"], Path(tmp)) as procs:
                    await wait_healthy(procs)
                    side.warmup_s = await _polled_all(client, ids, procs)
                    await asyncio.sleep(args.warmup)
                    span = await _budgeted_window(http, sim, procs[0], side, args)
                    side.stretch = await _stretch(client)
                    await asyncio.sleep(args.tail)  # the window's last events
                    side.outcomes = await _scrape(http, procs[0].url)
                visible = await _visible(http, sim.url, ids)
        finally:
            drain.stopped = True
            await asyncio.gather(draining, return_exceptions=True)
            await client.aclose()
        _match(side, visible, await _stream_seen(server.url), span)
    return side


def _naive_seen(path: Path) -> dict[str, float]:
    seen: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        event_id, _, at = line.partition(" ")
        seen.setdefault(event_id, float(at))
    return seen


async def run_naive(scenario: Scenario, args: Any) -> Side:
    side = Side("naive openai-SDK watcher")
    ids = [str(spec.id) for spec in scenario.jobs]
    with (
        tempfile.TemporaryDirectory(prefix="ftwatch-naive-") as tmp,
        simulator(scenario.model_dump_json(), Path(tmp)) as sim,
    ):
        log = Path(tmp) / "seen.log"
        extra = ["--seen-log", str(log)]
        async with (
            naive_process(f"{sim.url}/v1", args.interval, extra),
            aiohttp.ClientSession() as http,
        ):
            await asyncio.sleep(args.warmup)
            start, side.requests = await _window(http, sim.url, args)
            side.window = args.window
            await asyncio.sleep(args.interval + 2)
            visible = await _visible(http, sim.url, ids)
        _match(side, visible, _naive_seen(log), (start, start + args.window))
    return side


def report(fleet: str, sides: list[Side], args: Any) -> str:
    naive = sides[-1]
    low, high = FLEETS[fleet]
    headers = ["watcher", "req/s", "req ratio to naive", "events", "missed"]
    headers += ["detection p50 s", "p95 s", "p95 ratio to naive", "max s", "predictions"]
    rows = [
        [
            s.name,
            s.rate,
            f"{s.rate / naive.rate:.3f}",
            len(s.latencies),
            s.missed,
            percentile(s.latencies, 0.5),
            percentile(s.latencies, 0.95),
            f"{percentile(s.latencies, 0.95) / percentile(naive.latencies, 0.95):.2f}",
            max(s.latencies, default=float("nan")),
            " ".join(f"{k} {v:g}" for k, v in sorted(s.outcomes.items())) or "-",
        ]
        for s in sides
    ]
    return "\n".join(
        [
            f"**{fleet}**: {args.jobs} running jobs, a step every {low:g}-{high:g} s (per job),"
            f" each step +-{JITTER:.0%}; poll interval {args.interval:g} s for both;"
            f" warm-up {args.warmup:g} s, window {args.window:g} s",
            "",
            table(headers, rows),
        ]
    )


def budget_report(fleet: str, sides: list[Side], args: Any, load: tuple[str, str]) -> str:
    """Before (factor 1) and after side by side under the request budget."""
    low, high = FLEETS[fleet]
    headers = ["poller", "req/s", "stretch", "events", "missed", "detection p50 s", "p95 s"]
    headers += ["max s", "predictions", "poller CPU", "simulator CPU", "warm-up s"]
    rows = [
        [
            s.name,
            s.rate,
            s.stretch,
            len(s.latencies),
            s.missed,
            percentile(s.latencies, 0.5),
            percentile(s.latencies, 0.95),
            max(s.latencies, default=float("nan")),
            " ".join(f"{k} {v:g}" for k, v in sorted(s.outcomes.items())) or "-",
            f"{s.poller_cpu:.0%}",
            f"{s.sim_cpu:.0%}",
            s.warmup_s,
        ]
        for s in sides
    ]
    return "\n".join(
        [
            f"**{fleet}, budget {args.budget:g} req/s**: {args.jobs:,} running jobs, a step every"
            f" {low:g}-{high:g} s (per job), each step +-{JITTER:.0%};"
            f" FTWATCH_POLL_INTERVAL={args.interval:g}, FTWATCH_MAX_REQUESTS_PER_SECOND="
            f"{args.budget:g}; {_concurrency(args)}{_order(args)}; window {args.window:g} s"
            f" after every job was polled once + {args.warmup:g} s, tail {args.tail:g} s;"
            f" load average (1, 5, 15 min) {load[0]} at the start, {load[1]} at the end",
            "",
            table(headers, rows),
        ]
    )


def _order(args: Any) -> str:
    return "both sides at once" if getattr(args, "together", False) else "one side, then the other"


def _concurrency(args: Any) -> str:
    return f"FTWATCH_POLL_CONCURRENCY={args.concurrency}; " if args.concurrency else ""


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


async def budgeted(fleet: str, args: Any) -> str:
    scenario = cadence_fleet(args.jobs, FLEETS[fleet])
    if args.tail is None:  # about two of the before side's rounds through the fleet
        args.tail = 1.5 * args.jobs / args.budget + 10
    started = _load()
    factors = (args.max_poll_factor, 1.0)
    if args.together:  # half the wall time; the two pollers then share the CPU
        sides = list(await asyncio.gather(*(run_budgeted(scenario, args, f) for f in factors)))
    else:
        sides = [await run_budgeted(scenario, args, f) for f in factors]
    return budget_report(fleet, sides, args, (started, _load()))


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fleet", choices=[*FLEETS, "both"], default="both")
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=30.0)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--max-poll-factor", type=float, default=6.0)
    parser.add_argument(
        "--also-factor-1", action="store_true", help="also ftwatch without the cadence model"
    )
    parser.add_argument(
        "--budget", type=float, help="FTWATCH_MAX_REQUESTS_PER_SECOND: before/after, no naive"
    )
    parser.add_argument("--tail", type=float, help="seconds after the window (--budget)")
    parser.add_argument("--together", action="store_true", help="--budget: both sides at once")
    parser.add_argument("--concurrency", type=int, help="FTWATCH_POLL_CONCURRENCY for ftwatch")
    args = parser.parse_args(argv)
    print(f"command: {command_line()}\nmachine: {machine()}\n")
    fleets = ["sparse", "dense"] if args.fleet == "both" else [args.fleet]
    if args.budget:
        for fleet in fleets:
            print(await budgeted(fleet, args) + "\n", flush=True)
        return 0
    for fleet in fleets:
        scenario = cadence_fleet(args.jobs, FLEETS[fleet])
        sides = [await run_ftwatch(scenario, args, args.max_poll_factor)]
        if args.also_factor_1:
            sides.append(await run_ftwatch(scenario, args, 1.0))
        sides.append(await run_naive(scenario, args))
        print(report(fleet, sides, args) + "\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
