"""Detection latency, and ftwatch against the naive openai-SDK watcher, on one scenario.

A fleet of jobs (by default 70% running with a step every ~10 s, 10% queued, 20% finished)
on the simulator (a child process). During
a measured window, probe events (a metric the benchmark's rule pauses on) appear in
randomly chosen jobs at random times; the simulator records when each became visible
and when the pause call arrived. Both sides run against a fresh copy of the same
scenario with the same probe schedule and poll interval:
- ftwatch: `ftwatch run --role poller|worker|api` (rule: probe > 0.5 → pause);
  afterwards some jobs finish and an OpenAI webhook says so: the time until the
  `finished` rule's notification reaches a receiver is the webhook detection latency;
- naive: bench/naive.py (retrieve + list 100 events per job per interval, 16 in flight).

Run: python -m bench.latency [--jobs 1000 --running 0.7 --interval 5 --window 60 --probes 100]
     [--ftwatch-interval S: ftwatch polls every S s, the naive watcher every --interval s]
     [--match-naive: the naive watcher first, then ftwatch at an interval just under its p99]
(`--running 1 --skip-naive`: target 2's fleet of 1,000 running jobs, ftwatch alone.)
     [--max-poll-factor F: ftwatch's FTWATCH_MAX_POLL_FACTOR; default 1, polls every interval]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    ROOT,
    command_line,
    ftwatch_processes,
    machine,
    percentile,
    private_redis,
    simulator,
    table,
    wait_healthy,
)
from bench.fleet import fleet, kind_of
from bench.probes import Plan, Side, make_plan, measured, split_latency
from bench.webhooks import Receiver, new_secret, webhook_latencies
from service.models.ident import DEFAULT_PROVIDER, job_key
from service.store import keys
from service.store.backlog import stream_backlog
from service.store.connection import connect_redis
from service.store.scripts import Scripts
from tests.support import served

RULES = """
receivers:
  - name: bench
    url: {receiver}
    format: standard
    secret_env: BENCH_RECEIVER_SECRET
rules:
  - name: probe
    when: {{threshold: {{metric: probe, above: 0.5}}}}
    do: [pause]
  - name: finished
    when: {{status: [succeeded, failed, cancelled]}}
    do: [{{notify: bench}}]
"""


async def _warmed_up(redis_url: str, ids: list[str]) -> None:
    """Every job polled once, and the rules through the events those first polls found."""
    client = connect_redis(redis_url)
    try:
        while True:
            async with client.pipeline(transaction=False) as pipe:
                for job_id in ids:
                    pipe.hexists(keys.job(job_key(DEFAULT_PROVIDER, job_id)), "status")
                polled = all(await pipe.execute())
            backlog = await stream_backlog(Scripts(client), keys.EVENTS_STREAM, "rules", limit=1000)
            if polled and backlog.entries < 50:
                return
            await asyncio.sleep(0.5)
    finally:
        await client.aclose()


async def run_ftwatch(scenario_json: str, ids: list[str], plan: Plan, args: Any) -> Side:
    side = Side("ftwatch (poller, worker, api processes)")
    receiver = Receiver()
    inbound, outbound = new_secret(), new_secret()
    with tempfile.TemporaryDirectory(prefix="ftwatch-lat-") as tmp, private_redis() as server:
        async with served(receiver.app()) as receiver_url, aiohttp.ClientSession() as http:
            rules = Path(tmp) / "rules.yaml"
            rules.write_text(RULES.format(receiver=f"{receiver_url}/hook"))
            with simulator(scenario_json, Path(tmp)) as sim:
                env = {
                    "FTWATCH_REDIS_URL": server.url,
                    "OPENAI_BASE_URL": f"{sim.url}/v1",
                    "OPENAI_API_KEY": "sk-bench",
                    "FTWATCH_POLL_INTERVAL": str(args.ftwatch_interval),
                    # Probes come at random times, which no cadence predicts: target 2's
                    # bound is for them (bench.cadence measures the model).
                    "FTWATCH_MAX_POLL_FACTOR": str(getattr(args, "max_poll_factor", 1.0)),
                    "FTWATCH_RULES": str(rules),
                    "FTWATCH_WEBHOOK_SECRET": inbound,
                    "BENCH_RECEIVER_SECRET": outbound,
                    "FTWATCH_LOG_LEVEL": "warning",
                }
                with ftwatch_processes(env, ["poller", "worker", "api"], Path(tmp)) as procs:
                    await wait_healthy(procs)
                    await _warmed_up(server.url, ids)
                    await asyncio.sleep(args.ftwatch_interval)
                    pids = [p.proc.pid for p in procs if p.proc]
                    await measured(http, sim, pids, plan=plan, args=args, side=side)
                    await split_latency(server.url, side)
                    side.webhook = await webhook_latencies(
                        http,
                        sim.url,
                        ftwatch_url=procs[2].url,
                        secret=inbound,
                        jobs=plan.finishing,
                        receiver=receiver,
                    )
    return side


@asynccontextmanager
async def naive_process(
    base_url: str, interval: float, extra: Sequence[str] = ()
) -> AsyncIterator[subprocess.Popen[str]]:
    command = [sys.executable, "-m", "bench.naive", "--base-url", base_url]
    proc = subprocess.Popen(  # noqa: ASYNC220 - once, before anything is measured
        [*command, "--interval", str(interval), *extra],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        await asyncio.to_thread(proc.stdout.readline)  # "watching N": it listed the jobs
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout:
            proc.stdout.close()


async def run_naive(scenario_json: str, plan: Plan, args: Any) -> Side:
    side = Side("naive openai-SDK watcher")
    with (
        tempfile.TemporaryDirectory(prefix="ftwatch-naive-") as tmp,
        simulator(scenario_json, Path(tmp)) as sim,
    ):
        async with (
            naive_process(f"{sim.url}/v1", args.interval) as proc,
            aiohttp.ClientSession() as http,
        ):
            await asyncio.sleep(args.interval * 2)  # first passes: every event seen once
            await measured(http, sim, [proc.pid], plan=plan, args=args, side=side)
    return side


def report(sides: list[Side], args: Any) -> str:
    ours, naive = sides
    jobs_per_interval = args.jobs / args.interval  # every job the naive watcher lists
    headers = [
        "watcher",
        "req/s",
        "req per job per interval",
        "CPU (share of a core)",
        "detection p50 s",
        "p99 s",
        "max s",
        "missed",
        "simulator CPU",
    ]
    rows = [
        [
            s.name,
            s.rate,
            s.rate / jobs_per_interval,
            f"{s.cpu_s / s.window:.0%}",
            percentile(s.latencies, 0.5),
            percentile(s.latencies, 0.99),
            max(s.latencies, default=float("nan")),
            s.missed,
            f"{s.sim_cpu_s / s.window:.0%}",
        ]
        for s in sides
    ]
    if naive is ours:  # --skip-naive: ftwatch alone
        rows = rows[:1]
    else:
        rows.append(_ratios(ours, naive))
    hooks = ours.webhook
    return "\n".join(
        [
            f"command: {command_line()}",
            f"machine: {machine()}",
            f"{args.jobs:,} jobs, {args.running:.0%} running (a step every ~{args.step_period:g}s)"
            f"{', 10% queued, the rest finished' if args.running < 1 else ''}, "
            f"{_intervals(args)}, window {args.window:g}s, "
            f"{args.probes} probes",
            "",
            table(headers, rows),
            "",
            f"completion announced by an OpenAI webhook → `finished` notification received: "
            f"{len(hooks)} of {len(args.finishing)} jobs, p50 {percentile(hooks, 0.5):.3f}s, "
            f"p99 {percentile(hooks, 0.99):.3f}s, max {max(hooks, default=float('nan')):.3f}s",
            f"ftwatch's detection split: visible → on ftwatch:events p50 "
            f"{percentile(ours.to_stream, 0.5):.2f}s p99 {percentile(ours.to_stream, 0.99):.2f}s; "
            f"→ pause call p50 {percentile(ours.to_pause, 0.5):.2f}s "
            f"p99 {percentile(ours.to_pause, 0.99):.2f}s",
            f"target: p99 <= {args.ftwatch_interval:g}s + 0.25s = "
            f"{args.ftwatch_interval + 0.25:g}s",
        ]
    )


def matching_interval(naive: Side) -> float:
    """An interval whose p99 is no worse than the naive watcher's (ftwatch's p99 is about
    its interval: 0.99 of it plus ~50 ms to the pause), rounded down to 0.1 s."""
    return max(0.1, math.floor((percentile(naive.latencies, 0.99) - 0.1) * 10) / 10)


def _intervals(args: Any) -> str:
    if args.ftwatch_interval == args.interval:
        return f"FTWATCH_POLL_INTERVAL={args.interval:g}s (the naive watcher's interval too)"
    return (
        f"FTWATCH_POLL_INTERVAL={args.ftwatch_interval:g}s, naive watcher's interval "
        f"{args.interval:g}s"
    )


def _ratios(ours: Side, naive: Side) -> list[object]:
    return [
        "ratio ftwatch / naive",
        f"{ours.rate / naive.rate:.3f}",
        "",
        f"{ours.cpu_s / naive.cpu_s:.2f}",
        f"{percentile(ours.latencies, 0.5) / percentile(naive.latencies, 0.5):.2f}",
        f"{percentile(ours.latencies, 0.99) / percentile(naive.latencies, 0.99):.2f}",
        "",
        "",
        "",
    ]


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--step-period", type=float, default=10.0)
    parser.add_argument(
        "--running", type=float, default=0.7, help="share of running jobs (then 10%% queued)"
    )
    parser.add_argument(
        "--ftwatch-interval",
        type=float,
        help="ftwatch's poll interval when it differs from the naive watcher's (--interval):"
        " compares the requests each needs for the same detection latency",
    )
    parser.add_argument(
        "--match-naive",
        action="store_true",
        help="run the naive watcher first, then ftwatch polling just under the naive"
        " watcher's measured p99: the requests each needs for the same detection latency",
    )
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument(
        "--max-poll-factor",
        type=float,
        default=1.0,
        help="ftwatch's FTWATCH_MAX_POLL_FACTOR (default 1: every interval, the bound target 2"
        " is about; above 1 the cadence model lets random-time probes wait up to interval x it)",
    )
    args = parser.parse_args(argv)
    if args.ftwatch_interval is None:
        args.ftwatch_interval = args.interval
    queued = 0.0 if args.running >= 1 else 0.1
    scenario = fleet(
        args.jobs, seed=3, running=args.running, queued=queued, step_period=args.step_period
    )
    running = [str(spec.id) for spec in scenario.jobs if kind_of(spec) == "running"]
    plan = make_plan(running, args.window, args.probes)
    args.finishing = plan.finishing
    scenario_json = scenario.model_dump_json()
    active = [str(spec.id) for spec in scenario.jobs if kind_of(spec) != "finished"]
    if args.match_naive:
        naive = await run_naive(scenario_json, plan, args)
        args.ftwatch_interval = matching_interval(naive)
        print(report([await run_ftwatch(scenario_json, active, plan, args), naive], args))
        return 0
    sides = [await run_ftwatch(scenario_json, active, plan, args)]
    if not args.skip_naive:
        sides.append(await run_naive(scenario_json, plan, args))
        print(report(sides, args))
    else:
        print(report([sides[0], sides[0]], args))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
