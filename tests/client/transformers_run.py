"""A real Hugging Face `Trainer` training (torch, CPU) with FtwatchCallback, run as its own
process by the tests.

`python -m tests.client.transformers_run MAX_STEPS OUT_DIR` with the FTWATCH_* variables
set, alone or under `torch.distributed.run` (each rank runs it; accelerate joins them with
gloo). Every rank writes `OUT_DIR/rank<N>.json`: the step it stopped at, what it carried
out, the checkpoint it names, the checkpoint directories on disk, the steps it evaluated
at, whether it had a reporter.

The data are tests/client/synthetic.py's: `eval_loss` never really improves, so a plateau
rule on `valid_loss` fires after `patience` evaluations.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
from ftwatch_client.transformers import FtwatchCallback
from torch.utils.data import Dataset
from transformers import Trainer, TrainingArguments

from tests.client.synthetic import Array, regression

EVAL_STEPS = 2


class Pairs(Dataset[dict[str, torch.Tensor]]):
    """Rows as the Trainer's default collator stacks them: the forward's keyword arguments."""

    def __init__(self, x: Array, y: Array) -> None:
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "labels": self.y[i]}


class Regression(torch.nn.Module):
    """Nine parameters; returns the loss the way a transformers model does."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(8, 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": torch.nn.functional.mse_loss(self.layer(x), labels)}


def arguments(max_steps: int, out: Path) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(out),
        max_steps=max_steps,
        per_device_train_batch_size=16,
        per_device_eval_batch_size=64,
        learning_rate=0.05,
        lr_scheduler_type="constant",  # the same steps whatever max_steps is
        eval_strategy="steps",
        eval_steps=EVAL_STEPS,
        logging_steps=EVAL_STEPS,
        save_strategy="no",  # the only checkpoint is the one a pause asks for
        prediction_loss_only=True,
        report_to=[],
        use_cpu=True,  # several ranks: accelerate joins them with gloo (ddp_backend would
        # break a lone process: accelerate then asks torch.distributed for a world size)
        disable_tqdm=True,
        seed=0,
    )


def main(max_steps: int, out: Path) -> dict[str, Any]:
    x, y, x_val, y_val = regression(512, 64)
    callback = FtwatchCallback(method="supervised", flush_interval=0.1, close_timeout=5.0)
    trainer = Trainer(
        model=Regression(),
        args=arguments(max_steps, out),
        train_dataset=Pairs(x, y),
        eval_dataset=Pairs(x_val, y_val),
        callbacks=[callback],
    )
    trainer.train()
    session = callback.session
    reporter = session.reporter if session else None
    return {
        "rank": trainer.args.process_index,
        "world": trainer.args.world_size,
        "step": trainer.state.global_step,
        "acted": session.acted.action if session and session.acted else None,
        "checkpoint": callback.checkpoint,
        "saved": sorted(p.name for p in out.glob("checkpoint-*")),
        "evaluated": [e["step"] for e in trainer.state.log_history if "eval_loss" in e],
        "reporter": reporter is not None,
        "job_id": reporter.job_id if reporter else None,
    }


if __name__ == "__main__":
    out = Path(sys.argv[2])
    result = main(int(sys.argv[1]), out)
    (out / f"rank{result['rank']}.json").write_text(json.dumps(result), encoding="utf-8")
    if torch.distributed.is_initialized():  # a clean exit, not the group's destructor
        torch.distributed.destroy_process_group()
