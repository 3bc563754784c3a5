"""The chaos test's 50 jobs, each with the one outcome the rules must produce (pure).

Every kind is shaped so its outcome is unambiguous whatever the chaos delays: the
condition shows early (by step ~14) and the job runs on for 30+ more steps, so a
late detection still finds the job running; the other rules never match it.

| kind      | job                                   | ftwatch must                       |
|-----------|---------------------------------------|------------------------------------|
| plateau   | RFT, team search, reward flat from P  | pause once, never resume           |
| grader    | RFT, team safety, grader errors 60-80%| pause once, resume once (2 s later)|
| diverging | SFT/DPO, train_loss x1.5 per step     | cancel once                        |
| healthy   | RFT (search) / SFT / DPO, improving;  | nothing but the finished notice    |
|           | a step every ~2 s (the others 0.5 s)  |                                    |
| failed    | fails upstream mid-run                | nothing but the finished notice    |
| cancelled | cancelled upstream by its owner       | nothing but the finished notice    |
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from simulator.curves import Curve
from simulator.scenario import JobSpec, job_id_for

Kind = Literal["plateau", "grader", "diverging", "healthy", "failed", "cancelled"]
# How many jobs of each kind: 50 in all.
MIX: dict[Kind, int] = {
    "plateau": 10,
    "grader": 10,
    "diverging": 8,
    "healthy": 14,
    "failed": 4,
    "cancelled": 4,
}
STEP_PERIOD = 0.5  # seconds per step: a 50-step job runs 25 s
# Healthy jobs step slower than the poll interval (1 s), +-10%, for as long: the cadence
# model polls them about once a step, just after it, instead of every interval.
SPARSE_STEP_PERIOD = 2.0
SPARSE_STEPS = (11, 14)
RESUME_AFTER = "2s"  # the grader rule's delayed resume
FIRED = "ftwatch.rule.fired"
FINISHED = "ftwatch.job.finished"

RECEIVER = "ops"
SECRET_ENV = "CHAOS_OPS_SECRET"
RULES = """
receivers:
  - name: ops
    url: {receiver_url}
    format: standard
    secret_env: CHAOS_OPS_SECRET
    timeout: 2s
rules:
  - name: reward-plateau
    match: {{method: reinforcement, metadata: {{team: search}}}}
    when: {{plateau: {{metric: valid_reward_mean, mode: max, patience: 3, min_delta: 0.01}}}}
    do: [pause, {{notify: ops}}]
  - name: grader-errors
    match: {{method: reinforcement}}
    when: {{error_rate: {{threshold: 0.25, window_steps: 3}}}}
    do: [pause, {{notify: ops}}, {{resume: {{after: {resume_after}, max_times: 1}}}}]
  - name: loss-divergence
    match: {{method: [supervised, dpo]}}
    when: {{threshold: {{metric: train_loss, above: 5.0, non_finite: true}}}}
    do: [cancel, {{notify: ops}}]
  - name: finished
    when: {{status: [succeeded, failed, cancelled]}}
    do: [{{notify: ops}}]
"""


def rules_text(receiver_url: str) -> str:
    """The rules file of the chaos test, its webhook pointing at `receiver_url`."""
    return RULES.format(receiver_url=receiver_url, resume_after=RESUME_AFTER)


@dataclass(frozen=True)
class Expected:
    """What ftwatch must do to one job, judged from the simulator's and receiver's records."""

    pauses: int = 0
    resumes: int = 0
    cancels: int = 0
    final_status: str = "succeeded"
    notices: frozenset[tuple[str, str]] = frozenset()  # (webhook type, rule)


@dataclass(frozen=True)
class ChaosJob:
    """One scripted job and what must happen to it."""

    kind: Kind
    spec: JobSpec
    expected: Expected

    @property
    def id(self) -> str:
        assert self.spec.id is not None
        return self.spec.id


def _curve(**fields: Any) -> Curve:
    return Curve.model_validate(fields)


def _base(rng: random.Random, index: int, seed: int, **fields: Any) -> dict[str, Any]:
    """Fields every job shares: id, timing (staggered starts), seed of its noise."""
    return {
        "id": job_id_for(seed, index),
        "step_period": STEP_PERIOD,
        "start_after": round(rng.uniform(1.0, 8.0), 2),
        "resume_delay": 0.5,
        "total_steps": rng.randint(44, 56),
        "checkpoint_interval": 10,
        "seed": seed * 1000 + index,
        **fields,
    }


def _plateau(rng: random.Random, base: dict[str, Any]) -> ChaosJob:
    # Gains of 0.03+ per evaluation until step P, then flat (noise 0.002 << min_delta 0.01):
    # patience 3 runs out at step P + 3 <= 13.
    flat = _curve(
        kind="plateau",
        start=0.3,
        end=0.6,
        plateau_at=rng.randint(6, 10),
        noise=0.002,
        seed=base["seed"],
    )
    spec = {
        **base,
        "method": "reinforcement",
        "metadata": {"team": "search"},
        "eval_interval": 1,
        "metrics": {"valid_reward_mean": flat},
    }
    expected = Expected(
        pauses=1, final_status="paused", notices=frozenset({(FIRED, "reward-plateau")})
    )
    return ChaosJob("plateau", JobSpec.model_validate(spec), expected)


def _grader(rng: random.Random, base: dict[str, Any]) -> ChaosJob:
    # Errors from step b until the pause (someone fixes the grader while it is paused),
    # or nearly the end: window 3 fills at step b + 2 <= 10.
    first = rng.randint(4, 8)
    burst = {
        "grader": "grader",
        "from_step": first,
        "to_step": base["total_steps"] - 2,
        "rate": round(rng.uniform(0.6, 0.8), 2),
        "category": rng.choice(["sample_parse_error", "invalid_variable_error", "other_error"]),
        "fixed_on_pause": True,
    }
    spec = {
        **base,
        "method": "reinforcement",
        "metadata": {"team": "safety"},
        "eval_interval": 5,
        "grader_errors": [burst],
    }
    notices = frozenset({(FIRED, "grader-errors"), (FINISHED, "finished")})
    return ChaosJob(
        "grader", JobSpec.model_validate(spec), Expected(pauses=1, resumes=1, notices=notices)
    )


def _diverging(rng: random.Random, base: dict[str, Any]) -> ChaosJob:
    # ~1.1 at step d, then x1.5 per step: above 5.0 from step d + 4 or 5 <= 14.
    loss = _curve(
        kind="diverge",
        start=2.0,
        end=0.4,
        diverge_at=rng.randint(6, 9),
        growth=1.5,
        noise=0.01,
        seed=base["seed"],
        min=0.0,
    )
    spec = {
        **base,
        "method": rng.choice(["supervised", "dpo"]),
        "metadata": {"team": "core"},
        "eval_interval": 5,
        "metrics": {"train_loss": loss},
    }
    notices = frozenset({(FIRED, "loss-divergence"), (FINISHED, "finished")})
    expected = Expected(cancels=1, final_status="cancelled", notices=notices)
    return ChaosJob("diverging", JobSpec.model_validate(spec), expected)


def _improving(method: str, base: dict[str, Any]) -> dict[str, Any]:
    """A job that learns all the way: no rule but `finished` ever matches it."""
    if method == "reinforcement":
        # 0.034 per evaluation: always beats the best by more than min_delta.
        reward = _curve(start=0.1, end=0.95, noise=0.001, seed=base["seed"], min=0.0, max=1.0)
        extra = {"metadata": {"team": "search"}, "eval_interval": 2}
        return {**base, **extra, "method": method, "metrics": {"valid_reward_mean": reward}}
    loss = _curve(kind="exp", start=2.0, end=0.4, noise=0.02, seed=base["seed"], min=0.0)
    extra = {"metadata": {"team": "core"}, "eval_interval": 5}
    return {**base, **extra, "method": method, "metrics": {"train_loss": loss}}


def _completion(kind: Kind, rng: random.Random, base: dict[str, Any]) -> ChaosJob:
    method = rng.choice(["reinforcement", "supervised", "dpo"])
    spec = _improving(method, base)
    final = "succeeded" if kind == "healthy" else kind
    if kind != "healthy":
        spec |= {"final_status": final, "stop_at_step": rng.randint(10, 30)}
    else:
        # Its own draw: the fleet's other jobs stay as they were shaped and checked.
        steps = random.Random(base["seed"]).randint(*SPARSE_STEPS)
        spec |= {"step_period": SPARSE_STEP_PERIOD, "step_jitter": 0.1, "total_steps": steps}
    expected = Expected(final_status=final, notices=frozenset({(FINISHED, "finished")}))
    return ChaosJob(kind, JobSpec.model_validate(spec), expected)


def build_fleet(seed: int) -> list[ChaosJob]:
    """The 50 jobs of one seed, in a seeded order (so kinds interleave)."""
    rng = random.Random(seed)
    kinds: list[Kind] = [kind for kind, n in MIX.items() for _ in range(n)]
    rng.shuffle(kinds)
    jobs = []
    for index, kind in enumerate(kinds):
        base = _base(rng, index, seed)
        if kind == "plateau":
            jobs.append(_plateau(rng, base))
        elif kind == "grader":
            jobs.append(_grader(rng, base))
        elif kind == "diverging":
            jobs.append(_diverging(rng, base))
        else:
            jobs.append(_completion(kind, rng, base))
    return jobs


def describe(jobs: list[ChaosJob]) -> str:
    """`50 (plateau 10, grader 10, ...)`."""
    counts = Counter(job.kind for job in jobs)
    return f"{len(jobs)} (" + ", ".join(f"{k} {counts[k]}" for k in MIX) + ")"
