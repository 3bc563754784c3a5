"""Probe events for the latency benchmark: injected on schedule, matched to pause calls."""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.common import SimProcess, UsageProbe
from service.store import keys
from service.store.connection import connect_redis


@dataclass
class Side:
    name: str
    window: float = 0.0
    requests: float = 0.0
    cpu_s: float = 0.0
    sim_cpu_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    missed: int = 0
    visible: dict[str, float] = field(default_factory=dict)
    pauses: dict[str, float] = field(default_factory=dict)
    # ftwatch only: visible → appended to ftwatch:events, appended → pause call
    to_stream: list[float] = field(default_factory=list)
    to_pause: list[float] = field(default_factory=list)
    webhook: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.window if self.window else 0.0


@dataclass
class Plan:
    """The same probes for both sides: (seconds into the window, job id)."""

    probes: list[tuple[float, str]]
    finishing: list[str]


def make_plan(job_ids: list[str], window: float, probes: int, seed: int = 1) -> Plan:
    rng = random.Random(seed)
    finishing = min(20, len(job_ids) - probes)
    chosen = rng.sample(job_ids, probes + finishing)
    times = sorted(rng.uniform(0, window) for _ in range(probes))
    return Plan(list(zip(times, chosen[:probes], strict=True)), chosen[probes:])


async def fetch_json(http: aiohttp.ClientSession, method: str, url: str, body: Any = None) -> Any:
    async with http.request(method, url, json=body) as resp:
        return await resp.json()


async def inject_probes(http: aiohttp.ClientSession, sim_url: str, plan: Plan) -> dict[str, float]:
    """Make each probe visible at its time; returns job id → visible_at (wall)."""
    visible: dict[str, float] = {}
    start = time.monotonic()
    for offset, job_id in plan.probes:
        await asyncio.sleep(max(0.0, start + offset - time.monotonic()))
        event = {"type": "metrics", "message": "probe", "data": {"step": 0, "probe": 1.0}}
        made = await fetch_json(
            http,
            "POST",
            f"{sim_url}/_sim/jobs/{job_id}/events",
            {"events": [event], "complete": True},
        )
        seen = await fetch_json(http, "GET", f"{sim_url}/_sim/events/{made['ids'][0]}/visible")
        visible[job_id] = float(seen["visible_at"])
    return visible


async def pause_latencies(
    http: aiohttp.ClientSession, sim_url: str, visible: dict[str, float], side: Side
) -> None:
    actions = (await fetch_json(http, "GET", f"{sim_url}/_sim/actions"))["actions"]
    first: dict[str, float] = {}
    for action in actions:
        if action["action"] == "pause" and action["job_id"] in visible:
            first.setdefault(action["job_id"], float(action["at"]))
    side.visible, side.pauses = visible, first
    for job_id, at in visible.items():
        if job_id in first:
            side.latencies.append(first[job_id] - at)
        else:
            side.missed += 1


async def split_latency(redis_url: str, side: Side) -> None:
    """Where ftwatch's time goes: until the probe is on the stream, then until the pause."""
    client = connect_redis(redis_url)
    try:
        entries: Any = await client.xrange(keys.EVENTS_STREAM)
    finally:
        await client.aclose()
    for entry_id, fields in entries:
        event = json.loads(fields["e"])
        job_id = event["job_id"]
        if event.get("message") == "probe" and job_id in side.pauses:
            appended = int(str(entry_id).split("-")[0]) / 1000
            side.to_stream.append(appended - side.visible[job_id])
            side.to_pause.append(side.pauses[job_id] - appended)


async def measured(
    http: aiohttp.ClientSession,
    sim: SimProcess,
    pids: list[int],
    *,
    plan: Plan,
    args: Any,
    side: Side,
) -> None:
    """The window: probes injected, requests and CPU counted; then wait for late pauses."""
    assert sim.proc is not None
    probe = UsageProbe([*pids, sim.proc.pid])
    stats0 = await fetch_json(http, "GET", f"{sim.url}/_sim/stats")
    t0 = time.monotonic()
    probe.start()
    injecting = asyncio.create_task(inject_probes(http, sim.url, plan))
    await asyncio.sleep(args.window)
    visible = await injecting
    usage = await probe.stop()
    side.window = time.monotonic() - t0
    stats1 = await fetch_json(http, "GET", f"{sim.url}/_sim/stats")
    side.requests = stats1["total"] - stats0["total"]
    side.cpu_s = sum(u.cpu_s for u in usage[:-1])
    side.sim_cpu_s = usage[-1].cpu_s
    slowest = max(args.interval, args.ftwatch_interval)
    await asyncio.sleep(slowest * 2 + 2)  # the last probes' pauses
    await pause_latencies(http, sim.url, visible, side)
