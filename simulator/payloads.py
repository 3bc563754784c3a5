"""JSON shapes of the upstream API (reference §2-§4) built from a job's script (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from simulator.scenario import ErrorCategory, GraderSpec, JobSpec

ERROR_CATEGORIES: tuple[ErrorCategory, ...] = (
    "sample_parse_error",
    "invalid_variable_error",
    "other_error",
)
_SFT_CHECKPOINT_KEYS = (
    "train_loss",
    "train_mean_token_accuracy",
    "valid_loss",
    "valid_mean_token_accuracy",
    "full_valid_loss",
    "full_valid_mean_token_accuracy",
)


def is_eval_step(spec: JobSpec, step: int) -> bool:
    """Validation runs every `eval_interval` steps and on the last step."""
    return step % spec.eval_interval == 0 or step == spec.total_steps


def grader_config(grader: GraderSpec) -> dict[str, Any]:
    """A plausible grader definition of the given type (the schema's required keys)."""
    base: dict[str, Any] = {"type": grader.type, "name": grader.name}
    if grader.type == "string_check":
        return base | {
            "input": "{{sample.output_text}}",
            "reference": "{{item.answer}}",
            "operation": "eq",
        }
    if grader.type == "text_similarity":
        return base | {
            "input": "{{sample.output_text}}",
            "reference": "{{item.answer}}",
            "evaluation_metric": "fuzzy_match",
        }
    if grader.type == "python":
        return base | {"source": "def grade(sample, item) -> float:\n    return 1.0\n"}
    return base | {
        "model": "gpt-4o-2024-08-06",
        "input": [{"role": "user", "content": "Grade {{sample.output_text}} 0-1."}],
    }


def method_payload(spec: JobSpec) -> dict[str, Any]:
    """`method` of the job; RFT jobs with several graders get a `multi` grader."""
    hyper: dict[str, Any] = {
        "batch_size": "auto",
        "learning_rate_multiplier": "auto",
        "n_epochs": "auto",
    }
    if spec.method == "dpo":
        hyper["beta"] = "auto"
    if spec.method != "reinforcement":
        return {"type": spec.method, spec.method: {"hyperparameters": hyper}}
    hyper |= {
        "reasoning_effort": "default",
        "compute_multiplier": "auto",
        "eval_interval": spec.eval_interval,
        "eval_samples": "auto",
    }
    graders = spec.grader_list
    grader = grader_config(graders[0])
    if len(graders) > 1:
        # The real API maps names to graders here, but the spec and the SDK's strict models
        # type `graders` as one grader; follow them (events name every grader anyway).
        names = [g.name for g in graders]
        grader = {
            "type": "multi",
            "name": "multi",
            "graders": grader,
            "calculate_output": f"({' + '.join(names)}) / {len(names)}",
        }
    return {"type": "reinforcement", "reinforcement": {"grader": grader, "hyperparameters": hyper}}


def burst(
    spec: JobSpec, grader: str, step: int, paused_at: Sequence[int] = ()
) -> tuple[float, ErrorCategory]:
    """The grader's error rate at `step` (worst burst covering it) and its category.

    `paused_at`: the steps at which the job was paused; a `fixed_on_pause` burst ends
    at the first of them inside it.
    """
    rate = 0.0
    category: ErrorCategory = "other_error"
    for item in spec.grader_errors:
        end = item.to_step
        if item.fixed_on_pause:
            end = min([end, *(p for p in paused_at if item.from_step <= p <= item.to_step)])
        if item.grader == grader and item.from_step <= step <= end and item.rate >= rate:
            rate, category = item.rate, item.category
    return rate, category


def _grader_errors(
    grader: GraderSpec, rate: float, category: str, n: int, evals: bool
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": grader.name, "type": grader.type}
    for split in ("train", "valid") if evals else ("train",):
        for cat in ERROR_CATEGORIES:
            mean = rate if cat == category else 0.0
            entry[f"{split}_{cat}_mean"] = mean
            entry[f"{split}_{cat}_count"] = float(round(mean * n))
    return entry


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 6)


def rft_data(spec: JobSpec, step: int, paused_at: Sequence[int] = ()) -> dict[str, Any]:
    """`data` of an RFT metrics event; errored samples score 0, lowering the reward."""
    evals = is_eval_step(spec, step)
    train = spec.curve("train_reward_mean").value(step, spec.total_steps)
    valid = spec.curve("valid_reward_mean").value(step, spec.total_steps)
    scores, errors, trains, valids = [], [], [], []
    for grader in spec.grader_list:
        rate, category = burst(spec, grader.name, step, paused_at)
        entry: dict[str, Any] = {
            "name": grader.name,
            "type": grader.type,
            "train_reward_mean": round(train * (1 - rate), 6),
        }
        trains.append(entry["train_reward_mean"])
        if evals:
            entry["valid_reward_mean"] = round(valid * (1 - rate), 6)
            valids.append(entry["valid_reward_mean"])
        scores.append(entry)
        errors.append(_grader_errors(grader, rate, category, spec.samples_per_step, evals))
    data: dict[str, Any] = {
        "step": step,
        "total_steps": spec.total_steps,
        "scores": {"train_reward_mean": _mean(trains), "graders": scores},
        "errors": {"graders": errors},
        "train_mean_reward": _mean(trains),
    }
    if evals:
        data["scores"]["valid_reward_mean"] = _mean(valids)
        data["full_valid_mean_reward"] = _mean(valids)
        data["full_valid_mean_parse_error"] = max(
            e.get("valid_sample_parse_error_mean", 0.0) for e in errors
        )
    return data


def sft_data(spec: JobSpec, step: int) -> dict[str, Any]:
    """`data` of an SFT/DPO metrics event: validation keys on eval steps, full on the last."""
    total = spec.total_steps
    data: dict[str, Any] = {"step": step}
    for name in ("train_loss", "train_mean_token_accuracy"):
        data[name] = spec.curve(name).value(step, total)
    if is_eval_step(spec, step):
        for name in ("valid_loss", "valid_mean_token_accuracy"):
            data[name] = spec.curve(name).value(step, total)
    if step == total:
        data["full_valid_loss"] = data["valid_loss"]
        data["full_valid_mean_token_accuracy"] = data["valid_mean_token_accuracy"]
    return data


def metrics_data(spec: JobSpec, step: int, paused_at: Sequence[int] = ()) -> dict[str, Any]:
    if spec.method == "reinforcement":
        return rft_data(spec, step, paused_at)
    return sft_data(spec, step)


def metrics_message(spec: JobSpec, data: dict[str, Any]) -> str:
    """The human line OpenAI puts in `message` of a metrics event."""
    step, total = data["step"], spec.total_steps
    if spec.method != "reinforcement":
        text = f"Step {step}/{total}: training loss={_fmt(data['train_loss'])}"
        if "valid_loss" in data:
            text += f", validation loss={_fmt(data['valid_loss'])}"
        return text
    text = f"Step {step}/{total} , train mean reward={_fmt(data['train_mean_reward'])}"
    if "full_valid_mean_reward" in data:
        text += (
            f", full validation mean reward={_fmt(data['full_valid_mean_reward'])}"
            f", full validation mean parse error={_fmt(data['full_valid_mean_parse_error'])}"
        )
    return text


def checkpoint_metrics(step: int, data: dict[str, Any] | None) -> dict[str, Any]:
    """Checkpoint `metrics`: `step` plus the SFT keys the spec lists (none for RFT)."""
    metrics: dict[str, Any] = {"step": float(step)}
    for key in _SFT_CHECKPOINT_KEYS:
        if data and key in data:
            metrics[key] = data[key]
    return metrics


def _fmt(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else str(value)
