"""Fleets of simulated jobs for the scale and latency benchmarks (deterministic per seed)."""

from __future__ import annotations

import random

from simulator.scenario import JobSpec, Scenario, job_id_for

# Long enough that no running job finishes during a benchmark.
FOREVER_STEPS = 1_000_000
QUEUED_FOR = 10_000_000.0  # seconds: start_after of a job that stays queued


def _running(rng: random.Random, job_id: str, step_period: float) -> JobSpec:
    period = round(step_period * rng.uniform(0.8, 1.2), 3)
    method = rng.choices(("reinforcement", "supervised", "dpo"), (5, 3, 2))[0]
    return JobSpec(
        id=job_id,
        method=method,
        step_period=period,
        start_after=0.0,
        total_steps=FOREVER_STEPS,
        eval_interval=5,
        elapsed=period * rng.uniform(3, 12),  # a few steps already visible
        metadata={"fleet": "bench"},
    )


def _queued(job_id: str) -> JobSpec:
    return JobSpec(id=job_id, start_after=QUEUED_FOR, elapsed=QUEUED_FOR * 0.6)


def _finished(rng: random.Random, job_id: str) -> JobSpec:
    final = rng.choices(("succeeded", "failed", "cancelled"), (8, 1, 1))[0]
    steps = 10
    return JobSpec(
        id=job_id,
        step_period=1.0,
        start_after=1.0,
        total_steps=steps,
        elapsed=steps + 5.0,
        final_status=final,
        stop_at_step=None if final == "succeeded" else rng.randint(1, steps),
    )


def fleet(
    n_jobs: int,
    *,
    seed: int = 0,
    running: float = 0.7,
    queued: float = 0.1,
    step_period: float = 30.0,
) -> Scenario:
    """`n_jobs` jobs: `running` share mid-run, `queued` share queued, the rest finished."""
    rng = random.Random(seed)
    jobs = []
    for index in range(n_jobs):
        job_id = job_id_for(seed, index)
        draw = rng.random()
        if draw < running:
            jobs.append(_running(rng, job_id, step_period))
        elif draw < running + queued:
            jobs.append(_queued(job_id))
        else:
            jobs.append(_finished(rng, job_id))
    return Scenario(seed=seed, jobs=jobs)


def kind_of(spec: JobSpec) -> str:
    """running | queued | finished, as `fleet` made it."""
    if spec.total_steps == FOREVER_STEPS:
        return "running"
    return "queued" if spec.start_after == QUEUED_FOR else "finished"
