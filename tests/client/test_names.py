"""Framework metric names onto ftwatch's rule names, raw names kept (README's table)."""

from __future__ import annotations

import math

from ftwatch_client.names import MAX_METRICS, keras_names, lightning_names, transformers_names


def test_transformers_and_trl_names() -> None:
    train = transformers_names(
        {
            "loss": 0.4,
            "grad_norm": 1.5,
            "learning_rate": 1e-5,
            "epoch": 0.2,
            "reward": 0.7,
            "reward_std": 0.1,
            "rewards/accuracy/mean": 0.6,
            "rewards/accuracy/std": 0.2,
            "mean_token_accuracy": 0.8,
            "kl": None,  # TRL logs an all-NaN key as None: not a number, left out
        }
    )
    assert train == {
        "train_loss": 0.4,
        "train_reward_mean": 0.7,
        "train_reward_std": 0.1,
        "graders.accuracy.train_reward_mean": 0.6,
        "train_mean_token_accuracy": 0.8,
        "loss": 0.4,
        "grad_norm": 1.5,
        "learning_rate": 1e-5,
        "epoch": 0.2,
        "reward": 0.7,
        "reward_std": 0.1,
        "rewards/accuracy/mean": 0.6,
        "rewards/accuracy/std": 0.2,
        "mean_token_accuracy": 0.8,
    }
    evaluation = transformers_names(
        {"eval_loss": 0.3, "eval_reward": 0.5, "eval_rewards/fmt/mean": 0.9, "eval_runtime": 2.0}
    )
    assert {k: v for k, v in evaluation.items() if not k.startswith("eval_")} == {
        "valid_loss": 0.3,
        "valid_reward_mean": 0.5,
        "graders.fmt.valid_reward_mean": 0.9,
    }
    assert evaluation["eval_runtime"] == 2.0  # timing kept under its raw name only


def test_keras_names_and_non_finite_values() -> None:
    names = keras_names({"loss": math.nan, "accuracy": 0.5, "val_loss": 0.3, "val_accuracy": 0.4})
    assert names["valid_loss"] == 0.3 and names["valid_accuracy"] == 0.4
    assert names["train_accuracy"] == 0.5 and math.isnan(names["train_loss"])
    assert math.isnan(names["loss"]) and names["val_loss"] == 0.3


class Scalar:
    """A framework scalar (a tensor's one value) as `.item()` gives it."""

    def __init__(self, value: float) -> None:
        self.value = value

    def item(self) -> float:
        return self.value


def test_lightning_names_read_tensors_and_fold_forks() -> None:
    names = lightning_names(
        {"train_loss_step": Scalar(0.5), "val_loss": Scalar(0.4), "val/acc": 0.9, "loss": 0.5}
    )
    assert names["train_loss"] == 0.5 and names["valid_loss"] == 0.4
    assert names["valid_acc"] == 0.9 and names["val/acc"] == 0.9


def test_raw_names_win_and_an_event_stays_under_ftwatchs_metric_limit() -> None:
    assert keras_names({"loss": 1.0, "train_loss": 2.0})["train_loss"] == 2.0
    many = keras_names({f"m{i}": float(i) for i in range(400)})
    assert len(many) == MAX_METRICS < 256
