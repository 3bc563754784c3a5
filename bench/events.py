"""Realistic normalized events for the benchmarks: what the poller writes for simulated jobs."""

from __future__ import annotations

from collections.abc import Iterator

import redis.asyncio as aioredis

from service.models.event import NormalizedEvent
from service.models.job import JobSnapshot
from service.store.jobs import JobStore
from service.store.scripts import Scripts
from service.upstream.models import Job, JobEvent
from service.upstream.normalize import normalize
from simulator.platform import Platform
from simulator.presets import generate_scenario

# Events a poll typically finds for a job: 10 steps between two polls.
CHUNK = 10


def fleet_events(n_jobs: int, steps: int, seed: int = 7) -> dict[str, list[NormalizedEvent]]:
    """Per job, every event of a finished simulated job (RFT/SFT/DPO mix), oldest first."""
    scenario = generate_scenario(n_jobs, seed, running_share=0.0, total_steps=steps)
    platform = Platform(scenario)
    out: dict[str, list[NormalizedEvent]] = {}
    for job_id in platform.job_ids():
        job = Job.model_validate(platform.get_job(job_id))
        running = job.model_copy(update={"status": "running"})
        raw = platform.events(job_id)[::-1]
        out[job_id] = [normalize(running, JobEvent.model_validate(e)) for e in raw]
    return out


def interleaved(per_job: dict[str, list[NormalizedEvent]]) -> Iterator[list[NormalizedEvent]]:
    """Chunks of CHUNK events, one job after another, as a fleet's polls would append them."""
    offset = 0
    while True:
        found = False
        for events in per_job.values():
            chunk = events[offset : offset + CHUNK]
            if chunk:
                found = True
                yield chunk
        if not found:
            return
        offset += CHUNK


async def append_all(client: aioredis.Redis, per_job: dict[str, list[NormalizedEvent]]) -> int:
    """Append every event through the poller's own atomic append; returns how many."""
    store = JobStore(client, Scripts(client), maxlen=10_000_000, window=512)
    total = 0
    for chunk in interleaved(per_job):
        first = chunk[0]
        snapshot = JobSnapshot(
            job_id=first.job_id,
            status="running",
            model=first.model,
            method=first.method,
            metadata=first.metadata,
        )
        added = await store.append(snapshot, chunk, cursor=chunk[-1].event_id)
        total += len(added)
    return total
