"""Framework metric names mapped onto the names ftwatch's rules use (pure functions).

Every mapper returns the raw names too: a user's own rule on `eval_rewards/accuracy/mean`
keeps working, and the rule names (`valid_loss`, `train_reward_mean`, ...) are added
beside them. A raw name wins when both spell the same name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

Metrics = dict[str, float]

# ftwatch keeps at most 256 metric names per event; the rest would refuse the whole batch.
MAX_METRICS = 250

# HF Trainer / TRL training keys whose rule name is `train_<key>` (SPEC §4 leaf names).
_HF_TRAIN = {
    "loss": "train_loss",
    "reward": "train_reward_mean",
    "reward_std": "train_reward_std",
    "mean_token_accuracy": "train_mean_token_accuracy",
    "entropy": "train_entropy",
}
# TRL GRPO's per-reward-function mean: rewards/<function>/mean.
_HF_GRADER = re.compile(r"^rewards/(?P<name>[^/]+)/mean$")
# The HF Trainer's own evaluation figures, not model quality: left under their raw names.
_HF_EVAL_TIMING = ("runtime", "samples_per_second", "steps_per_second", "model_preparation_time")


def finite_or_nan(value: object) -> float | None:
    """A logged value as a float (NaN/inf kept: a diverging loss must reach the rules)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    item = getattr(value, "item", None)  # numpy / torch / jax scalars
    if callable(item):
        try:
            number = item()
        except (TypeError, ValueError, RuntimeError):  # not a one-element tensor
            return None
        return float(number) if isinstance(number, int | float) else None
    return None


def numbers(logs: Mapping[str, object] | None) -> Metrics:
    """The numeric entries of a framework's logs (None, text and tensors of many values dropped)."""
    out: Metrics = {}
    for key, value in (logs or {}).items():
        number = finite_or_nan(value)
        if number is not None:
            out[str(key)] = number
    return out


def _hf_one(key: str) -> str | None:
    evaluation = key.startswith("eval_")
    base = key.removeprefix("eval_")
    split = "valid" if evaluation else "train"
    if evaluation and base.endswith(_HF_EVAL_TIMING):
        return None
    grader = _HF_GRADER.match(base)
    if grader:
        return f"graders.{grader['name']}.{split}_reward_mean"
    if base in _HF_TRAIN:
        return _HF_TRAIN[base].replace("train_", f"{split}_", 1)
    return f"valid_{base}" if evaluation and "/" not in base else None


def _keras_one(key: str) -> str | None:
    if key.startswith("val_"):
        return "valid_" + key.removeprefix("val_")
    if key.startswith(("train_", "valid_")):
        return None
    return f"train_{key}"


def _lightning_one(key: str) -> str | None:
    base = key.removesuffix("_epoch").removesuffix("_step")
    for prefix, split in (("val_", "valid_"), ("val/", "valid_"), ("train/", "train_")):
        if base.startswith(prefix):
            return split + base.removeprefix(prefix)
    if base in ("loss", "reward"):
        return "train_loss" if base == "loss" else "train_reward_mean"
    return base if base != key else None


def _mapped(raw: Metrics, rename: Callable[[str], str | None]) -> Metrics:
    out: Metrics = {}
    for key, value in raw.items():
        name = rename(key)
        if name is not None:
            out[name] = value
    out.update(raw)
    return dict(list(out.items())[:MAX_METRICS])


def transformers_names(logs: Mapping[str, object] | None) -> Metrics:
    """HF Trainer / TRL: `loss`→`train_loss`, `eval_loss`→`valid_loss`, `reward`→
    `train_reward_mean`, `eval_<x>`→`valid_<x>`,
    `rewards/<f>/mean`→`graders.<f>.train_reward_mean`."""
    return _mapped(numbers(logs), _hf_one)


def keras_names(logs: Mapping[str, object] | None) -> Metrics:
    """Keras: `loss`→`train_loss`, `val_loss`→`valid_loss`, `<x>`→`train_<x>`,
    `val_<x>`→`valid_<x>`."""
    return _mapped(numbers(logs), _keras_one)


def lightning_names(logs: Mapping[str, object] | None) -> Metrics:
    """Lightning (the user's own `self.log` names): `val_<x>`/`val/<x>`→`valid_<x>`,
    `train/<x>`→`train_<x>`, `loss`→`train_loss`; `_step`/`_epoch` forks folded."""
    return _mapped(numbers(logs), _lightning_one)
