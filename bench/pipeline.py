"""Pipeline throughput: events through stream → rules (all default rules) → acknowledgement.

Measured in one run, on one private redis-server:
- raw: a minimal redis-py loop that XADDs a batch, XREADGROUPs it, parses each entry's
  JSON and XACKs it (the limit of Redis plus redis-py on this machine), with the
  synchronous client (the target's reference) and with the asyncio client ftwatch uses;
- rule evaluation alone: the default rules deciding the same events in memory, no Redis
  (the ceiling any worker reaches, whatever it saves on round trips);
- ftwatch with 1 and with 2 `ftwatch run --role worker` processes, consuming a stream the
  poller's own append script filled (rule state persisted in Redis per event);
- with `--cluster`, the same two on a three-master Redis Cluster (16 partitions, keys.py)
  started beside the single server, in the same rounds (both without AOF).

Run: python -m bench.pipeline [--jobs 150 --steps 400 --rounds 3 --cluster]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis

from bench.common import (
    UsageProbe,
    command_line,
    ftwatch_processes,
    machine,
    private_redis,
    table,
    wait_healthy,
)
from bench.events import append_all, fleet_events, interleaved
from service.metrics import Metrics
from service.models.event import NormalizedEvent
from service.parts import RULES_BATCH
from service.store import keys
from service.store.connection import connect_redis
from service.store.rule_state import RuleStateStore
from service.store.scripts import Scripts
from simulator.app import create_app as create_simulator
from simulator.platform import Platform
from simulator.presets import generate_scenario
from tests.ha import cluster_set
from tests.support import served
from workers.rules.fold import job_entries
from workers.rules.loading import default_rules
from workers.rules.view import RulesView
from workers.rules.worker import RuleWorker
from workers.stream.consumer import Entry

# The raw loops read (and write) as many entries per round trip as ftwatch's rules consumer.
RAW_BATCH = RULES_BATCH
GROUP = "rules"
CLUSTER_ROW = " on a 3-master cluster"


@dataclass
class Result:
    name: str
    events: int
    seconds: float
    cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def raw_loop(url: str, entries: list[dict[str, str]]) -> Result:
    """XADD a batch, XREADGROUP it, json-parse each entry, XACK the batch; until done."""
    client = redis.Redis.from_url(url, decode_responses=True)
    stream = "bench:raw"
    client.delete(stream)
    client.xgroup_create(stream, "raw", id="0", mkstream=True)
    parsed = 0
    cpu0 = time.process_time()
    started = time.perf_counter()
    for offset in range(0, len(entries), RAW_BATCH):
        pipe = client.pipeline(transaction=False)
        for fields in entries[offset : offset + RAW_BATCH]:
            pipe.xadd(stream, fields)  # type: ignore[arg-type]
        pipe.execute()
        reply: Any = client.xreadgroup("raw", "c", {stream: ">"}, count=RAW_BATCH)
        ids = []
        for entry_id, fields in reply[0][1]:
            json.loads(fields["e"])
            ids.append(entry_id)
            parsed += 1
        client.xack(stream, "raw", *ids)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    client.delete(stream)
    client.close()
    return Result("raw redis-py loop (XADD+XREADGROUP+parse+XACK)", parsed, seconds, cpu)


async def async_raw_loop(url: str, entries: list[dict[str, str]]) -> Result:
    """The raw loop with the asyncio client ftwatch's workers use (same steps)."""
    client = aioredis.Redis.from_url(url, decode_responses=True)
    stream = "bench:raw-async"
    await client.delete(stream)
    await client.xgroup_create(stream, "raw", id="0", mkstream=True)
    parsed = 0
    cpu0 = time.process_time()
    started = time.perf_counter()
    for offset in range(0, len(entries), RAW_BATCH):
        async with client.pipeline(transaction=False) as pipe:
            for fields in entries[offset : offset + RAW_BATCH]:
                pipe.xadd(stream, fields)  # type: ignore[arg-type]
            await pipe.execute()
        reply: Any = await client.xreadgroup("raw", "c", {stream: ">"}, count=RAW_BATCH)
        ids = []
        for entry_id, fields in reply[0][1]:
            json.loads(fields["e"])
            ids.append(entry_id)
            parsed += 1
        await client.xack(stream, "raw", *ids)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    await client.delete(stream)
    await client.aclose()
    return Result("raw loop, asyncio redis-py (ftwatch's client)", parsed, seconds, cpu)


def evaluation_only(url: str, entries: list[dict[str, str]]) -> Result:
    """The default rules deciding every entry in memory, batch by batch as a worker folds."""
    client = connect_redis(url)  # the store is never called: folding is pure
    worker = RuleWorker(
        default_rules(), RuleStateStore(client, Scripts(client), group=GROUP), Metrics()
    )
    views: dict[str, RulesView] = {}  # as the worker holds the views it committed
    batch = [Entry(f"{n}-0", fields) for n, fields in enumerate(entries)]
    cpu0 = time.process_time()
    started = time.perf_counter()
    for offset in range(0, len(batch), RAW_BATCH):
        by_job, _ = job_entries(batch[offset : offset + RAW_BATCH])
        for job_id, pairs in by_job.items():
            fold = worker.fold(job_id, "0", views.get(job_id) or RulesView(), pairs)
            views[job_id] = fold.view or views.get(job_id) or RulesView()
    seconds = time.perf_counter() - started
    name = "rule evaluation alone (default rules, in memory, no Redis)"
    return Result(name, len(batch), seconds, time.process_time() - cpu0)


def raw_entries(per_job: dict[str, list[NormalizedEvent]]) -> list[dict[str, str]]:
    """The same entries ftwatch's append writes: job key, per-job sequence, event JSON."""
    seq: dict[str, int] = {}
    out = []
    for chunk in interleaved(per_job):
        for event in chunk:
            seq[event.key] = seq.get(event.key, 0) + 1
            entry = {"j": event.key, "s": str(seq[event.key]), "e": event.model_dump_json()}
            out.append(entry)
    return out


async def _progress(client: aioredis.Redis, ids: dict[str, list[str]]) -> int:
    """Entries the group has finished (delivered and acknowledged), over every partition."""
    return sum([await _stream_progress(client, s, stream_ids) for s, stream_ids in ids.items()])


async def _stream_progress(client: aioredis.Redis, stream: str, ids: list[str]) -> int:
    try:
        groups: Any = await client.xinfo_groups(stream)
    except redis.ResponseError:
        return 0
    group = next((g for g in groups if g["name"] == GROUP), None)
    if group is None:
        return 0
    delivered = bisect.bisect_right(ids, _id_key(group["last-delivered-id"]), key=_id_key)
    return delivered - int(group["pending"])


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def _measure(client: aioredis.Redis, ids: dict[str, list[str]], limit_s: float) -> float:
    """Seconds from 10% to 90% done, scaled to the whole stream (startup excluded)."""
    total = sum(len(i) for i in ids.values())
    marks: dict[float, float] = {}
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        done = await _progress(client, ids)
        for share in (0.1, 0.9):
            if share not in marks and done >= share * total:
                marks[share] = time.perf_counter()
        if done >= total:
            break
        await asyncio.sleep(0.02)
    else:
        raise RuntimeError(f"workers did not finish within {limit_s}s")
    return (marks[0.9] - marks[0.1]) / 0.8


async def ftwatch_run(
    url: str,
    per_job: dict[str, list[NormalizedEvent]],
    workers: int,
    sim_url: str,
    logdir: Path,
    *,
    where: str = "",
) -> Result:
    """Fill the stream through the poller's append, then let `workers` processes drain it."""
    client = connect_redis(url)  # sets the key layout (partitions on a cluster)
    await client.flushdb()
    total = await append_all(client, per_job)
    ids: dict[str, list[str]] = {}
    for p in keys.partitions():
        entries: Any = await client.xrange(keys.events_stream(p))
        ids[keys.events_stream(p)] = [str(e[0]) for e in entries]
    env = {
        "FTWATCH_REDIS_URL": url,
        "OPENAI_BASE_URL": f"{sim_url}/v1",
        "OPENAI_API_KEY": "sk-bench",
        "FTWATCH_LOG_LEVEL": "warning",
    }
    with ftwatch_processes(env, ["worker"] * workers, logdir) as procs:
        await wait_healthy(procs)
        probe = UsageProbe([p.proc.pid for p in procs if p.proc])
        seconds = await _measure(client, ids, limit_s=600)
        usage = await probe.stop()
    await client.aclose()
    name = f"ftwatch{where}, {workers} worker process{'es' if workers > 1 else ''}"
    return Result(name, total, seconds, sum(u.cpu_s for u in usage))


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=150)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians)")
    parser.add_argument("--cluster", action="store_true", help="also on a 3-master cluster")
    args = parser.parse_args(argv)
    per_job = fleet_events(args.jobs, args.steps)
    entries = raw_entries(per_job)
    platform = Platform(generate_scenario(args.jobs, 7, running_share=0.0, total_steps=args.steps))
    rounds: list[list[Result]] = []
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(private_redis())
        logdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        targets = [("", server.url)]
        if args.cluster:
            cluster = stack.enter_context(cluster_set(logdir / "cluster", appendonly=False))
            await cluster.ready()
            targets.append((CLUSTER_ROW, cluster.url))
        async with served(create_simulator(platform)) as sim_url:
            for _ in range(args.rounds):
                results = [
                    raw_loop(server.url, entries),
                    await async_raw_loop(server.url, entries),
                    evaluation_only(server.url, entries),
                ]
                for where, url in targets:
                    for workers in (1, 2):
                        run = await ftwatch_run(url, per_job, workers, sim_url, logdir, where=where)
                        results.append(run)
                rounds.append(results)
    print(report(rounds, len(entries)))
    return 0


def report(rounds: list[list[Result]], events: int) -> str:
    """Each row's median over the rounds; "of raw" is the median of each round's own ratio
    (rows of one round ran minutes apart at most, rounds further apart on a shared host)."""
    rows = []
    for index, result in enumerate(rounds[0]):
        runs = [results[index] for results in rounds]
        ratios = [r.rate / results[0].rate for r, results in zip(runs, rounds, strict=True)]
        cpu = statistics.median(r.cpu_s / r.events * 1e6 for r in runs)
        spread = f"{min(ratios):.0%} to {max(ratios):.0%}" if len(runs) > 1 else "-"
        rate = statistics.median(r.rate for r in runs)
        rows.append([result.name, result.events, rate, f"{statistics.median(ratios):.0%}", spread])
        rows[-1].append(f"{cpu:.0f}")
    return "\n".join(
        [
            f"command: {command_line()}",
            f"machine: {machine()}",
            f"events: {events:,} (default rules, every event's rule state read and committed)",
            f"rounds: {len(rounds)}, interleaved; medians shown",
            "",
            table(["loop", "events", "events/s", "of raw", "per round", "CPU µs/event"], rows),
            "",
            "target: one worker process sustains at least 40% of the raw loop (first row)",
            "CPU µs/event: ftwatch's include start-up and its idle loops",
            *cluster_ratios(rounds),
        ]
    )


def cluster_ratios(rounds: list[list[Result]]) -> list[str]:
    """Each cluster row's rate over the same worker count's on the single Redis: the
    median of each round's own ratio (the two ran minutes apart at most)."""
    lines = []
    names = [r.name for r in rounds[0]]
    for index, name in enumerate(names):
        single = name.replace(CLUSTER_ROW, "")
        if CLUSTER_ROW not in name or single not in names:
            continue
        twin = names.index(single)
        ratios = [results[index].rate / results[twin].rate for results in rounds]
        lines.append(f"cluster / single Redis, {single}: {statistics.median(ratios):.0%}")
    return ["", *lines] if lines else []


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
