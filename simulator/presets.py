"""Built-in scenarios: the `ftwatch demo` script and generated fleets for load tests."""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulator.curves import Curve
from simulator.faults import Faults
from simulator.scenario import (
    GraderErrorBurst,
    GraderSpec,
    JobError,
    JobSpec,
    Method,
    Scenario,
)

DEMO_PLATEAU = "ftjob-demo-rft-plateau"
DEMO_GRADER_ERRORS = "ftjob-demo-rft-grader-errors"
DEMO_SUCCEEDS = "ftjob-demo-sft-succeeds"
DEMO_DIVERGES = "ftjob-demo-sft-diverges"
_TEAMS = ("search", "ads", "core", "safety")


def _reward(kind: str, start: float, end: float, seed: int, noise: float, **extra: int) -> Curve:
    return Curve.model_validate(
        {
            "kind": kind,
            "start": start,
            "end": end,
            "noise": noise,
            "seed": seed,
            "min": 0.0,
            "max": 1.0,
            **extra,
        }
    )


def _demo_jobs(period: float) -> list[JobSpec]:
    common = {"step_period": period, "start_after": 2 * period, "resume_delay": period}
    plateau = JobSpec(
        id=DEMO_PLATEAU,
        method="reinforcement",
        metadata={"team": "search", "demo": "plateau"},
        total_steps=40,
        eval_interval=2,
        graders=[GraderSpec(name="correctness")],
        metrics={
            "train_reward_mean": _reward("plateau", 0.3, 0.6, 11, 0.01, plateau_at=12),
            "valid_reward_mean": _reward("plateau", 0.35, 0.62, 12, 0.002, plateau_at=12),
        },
        **common,
    )
    grader_errors = JobSpec(
        id=DEMO_GRADER_ERRORS,
        method="reinforcement",
        metadata={"team": "search", "demo": "grader-errors"},
        total_steps=40,
        eval_interval=5,
        graders=[
            GraderSpec(name="answer_format", type="python"),
            GraderSpec(name="correctness", type="score_model"),
        ],
        grader_errors=[
            GraderErrorBurst(
                grader="answer_format",
                from_step=6,
                to_step=13,
                rate=0.6,
                category="sample_parse_error",
                fixed_on_pause=True,
            )
        ],
        metrics={
            "train_reward_mean": _reward("linear", 0.3, 0.8, 21, 0.01),
            "valid_reward_mean": _reward("linear", 0.3, 0.8, 22, 0.002),
        },
        **common,
    )
    succeeds = JobSpec(
        id=DEMO_SUCCEEDS,
        method="supervised",
        metadata={"team": "core", "demo": "succeeds"},
        total_steps=30,
        eval_interval=5,
        metrics={
            "train_loss": Curve(kind="exp", start=2.1, end=0.3, noise=0.02, seed=31),
            "valid_loss": Curve(kind="exp", start=2.2, end=0.35, noise=0.002, seed=32),
        },
        **common,
    )
    diverges = JobSpec(
        id=DEMO_DIVERGES,
        method="supervised",
        metadata={"team": "core", "demo": "diverges"},
        total_steps=36,
        eval_interval=6,
        final_status="failed",
        stop_at_step=26,
        error=JobError(
            code="training_diverged", message="Training loss became non-finite (NaN) at step 24."
        ),
        metrics={
            "train_loss": Curve(
                kind="diverge",
                start=2.0,
                end=1.0,
                diverge_at=10,
                growth=1.5,
                nan_at=24,
                noise=0.01,
                seed=41,
            ),
            "valid_loss": Curve(
                kind="diverge", start=2.1, end=1.1, diverge_at=10, growth=1.5, nan_at=24, seed=42
            ),
        },
        **common,
    )
    return [plateau, grader_errors, succeeds, diverges]


def default_scenario(step_period: float = 0.5) -> Scenario:
    """The four demo jobs of SPEC §2; unattended, all finish after 42 step periods (21 s).

    - ftjob-demo-rft-plateau: RFT, valid_reward_mean rises to 0.62 by step 12, then flat
      (noise 0.002) until step 40; succeeds if nobody pauses it.
    - ftjob-demo-rft-grader-errors: RFT with graders answer_format + correctness;
      answer_format fails 60% of samples (sample_parse_error) on steps 6-13, or until
      the job is paused (someone fixes the grader), then recovers; succeeds after 40 steps.
    - ftjob-demo-sft-succeeds: SFT, train_loss 2.1 → 0.3 (exp); succeeds after 30 steps.
    - ftjob-demo-sft-diverges: SFT, train_loss falls to ~1.25 by step 10, then x1.5 per
      step (above 5.0 from step 14), NaN from step 24; fails at step 26.
    """
    return Scenario(seed=0, jobs=_demo_jobs(step_period))


@dataclass(frozen=True)
class _Fleet:
    seed: int
    step_period: float
    total_steps: int
    eval_interval: int
    burst_share: float


def _generated_job(rng: random.Random, index: int, running: bool, fleet: _Fleet) -> JobSpec:
    method: Method = rng.choices(("reinforcement", "supervised", "dpo"), (5, 3, 2))[0]
    total = rng.randint(max(fleet.total_steps // 2, 1), fleet.total_steps)
    step_period = round(fleet.step_period * rng.uniform(0.8, 1.2), 3)
    curve_seed = fleet.seed * 100_003 + index
    spec: dict[str, object] = {
        "method": method,
        "total_steps": total,
        "eval_interval": fleet.eval_interval,
        "step_period": step_period,
        "start_after": step_period,
        "seed": curve_seed,
        "metadata": {"team": rng.choice(_TEAMS), "index": str(index)},
    }
    run_time = step_period * (total + 1)
    if running:
        spec["elapsed"] = rng.uniform(2 * step_period, 0.9 * run_time)
    else:
        spec["elapsed"] = run_time + 1.0
        final = rng.choices(("succeeded", "failed", "cancelled"), (8, 1, 1))[0]
        spec["final_status"] = final
        if final != "succeeded":
            spec["stop_at_step"] = rng.randint(1, total)
    if method == "reinforcement":
        kind = rng.choice(("linear", "exp", "plateau"))
        spec["metrics"] = {
            "valid_reward_mean": _reward(kind, 0.3, rng.uniform(0.5, 0.9), curve_seed, 0.005)
        }
        if rng.random() < fleet.burst_share:
            first = rng.randint(1, total)
            spec["grader_errors"] = [
                {
                    "grader": "grader",
                    "from_step": first,
                    "to_step": min(first + 5, total),
                    "rate": round(rng.uniform(0.2, 0.8), 2),
                }
            ]
    else:
        kind = rng.choices(("exp", "plateau", "diverge"), (6, 3, 1))[0]
        spec["metrics"] = {
            "train_loss": {
                "kind": kind,
                "start": 2.0,
                "end": 0.4,
                "noise": 0.02,
                "seed": curve_seed,
                "min": 0.0,
            }
        }
    return JobSpec.model_validate(spec)


def generate_scenario(
    n_jobs: int,
    seed: int = 0,
    *,
    running_share: float = 0.8,
    step_period: float = 1.0,
    total_steps: int = 100,
    eval_interval: int = 5,
    burst_share: float = 0.2,
    faults: Faults | None = None,
) -> Scenario:
    """`n_jobs` mixed jobs (RFT 50%, SFT 30%, DPO 20%), the same for the same arguments.

    About `running_share` of them are mid-run when the simulator starts (with their
    earlier steps already visible); the rest have already finished (mostly succeeded).
    """
    rng = random.Random(seed)
    fleet = _Fleet(seed, step_period, total_steps, eval_interval, burst_share)
    jobs = [
        _generated_job(rng, index, rng.random() < running_share, fleet) for index in range(n_jobs)
    ]
    return Scenario(seed=seed, jobs=jobs, faults=faults or Faults())


TOGETHER_SFT_DIVERGES = "ft-sim-sft-diverges"
TOGETHER_DPO_PLATEAU = "ft-sim-dpo-plateau"
TOGETHER_SFT_EARLY_STOP = "ft-sim-sft-early-stop"
TOGETHER_MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


def together_scenario(step_period: float = 0.5) -> Scenario:
    """The together flavor's default: SFT and DPO jobs whose losses `/metrics` serves.

    - ft-sim-sft-diverges: SFT, train_loss falls to step 8, then x1.5 per step, NaN from
      step 14; fails (`error`) at step 16.
    - ft-sim-dpo-plateau: DPO, valid_loss flat from step 10 (noise 0.001); completes at 30.
    - ft-sim-sft-early-stop: SFT, Together stops it early at step 18 of 30 (`early_stopped`).
    """
    common = {"step_period": step_period, "start_after": 2 * step_period, "model": TOGETHER_MODEL}
    diverges = JobSpec(
        id=TOGETHER_SFT_DIVERGES,
        total_steps=24,
        eval_interval=4,
        final_status="failed",
        stop_at_step=16,
        error=JobError(code="training_diverged", message="Training loss became NaN."),
        metrics={
            "train_loss": Curve(
                kind="diverge", start=2.0, end=1.0, diverge_at=8, growth=1.5, nan_at=14, seed=51
            ),
            "valid_loss": Curve(kind="diverge", start=2.1, end=1.1, diverge_at=8, growth=1.5),
        },
        **common,
    )
    dpo = JobSpec(
        id=TOGETHER_DPO_PLATEAU,
        method="dpo",
        total_steps=30,
        eval_interval=2,
        metrics={
            "train_loss": Curve(kind="plateau", start=0.69, end=0.4, plateau_at=10, seed=52),
            "valid_loss": Curve(
                kind="plateau", start=0.7, end=0.45, plateau_at=10, noise=0.001, seed=53
            ),
        },
        **common,
    )
    early = JobSpec(id=TOGETHER_SFT_EARLY_STOP, total_steps=30, early_stop_at=18, **common)
    return Scenario(seed=0, jobs=[diverges, dpo, early])
