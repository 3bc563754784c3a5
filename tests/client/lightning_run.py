"""A real Lightning training (CPU) with FtwatchCallback, run as its own process by the tests.

`python -m tests.client.lightning_run MAX_EPOCHS OUT_DIR DEVICES` with the FTWATCH_*
variables set. DEVICES > 1 trains with `strategy="ddp"` (gloo): Lightning starts the
other ranks by running this module again. Every rank writes `OUT_DIR/rank<N>.json`:
where it stopped, what it carried out, the checkpoint, and whether it had a reporter.

The data are tests/client/synthetic.py's: `val_loss` never really improves, so a
plateau rule on `valid_loss` fires after `patience` epochs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import lightning as L
import torch
from ftwatch_client.lightning import FtwatchCallback
from torch.utils.data import DataLoader, TensorDataset

from tests.client.synthetic import regression


def data(samples: int = 512) -> tuple[TensorDataset, TensorDataset]:
    x, y, x_val, y_val = (torch.from_numpy(a) for a in regression(samples, 128))
    return TensorDataset(x, y), TensorDataset(x_val, y_val)


class Regression(L.LightningModule):
    """One linear layer; logs `train_loss` per step and `val_loss` per epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(8, 1)

    def _loss(self, batch: Any) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("val_loss", self._loss(batch), sync_dist=True)  # the same on every rank

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=0.05)


def trainer(max_epochs: int, out: Path, devices: int, callbacks: list[Any]) -> L.Trainer:
    return L.Trainer(
        max_epochs=max_epochs,
        accelerator="cpu",
        devices=devices,
        strategy="ddp" if devices > 1 else "auto",
        default_root_dir=str(out),
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=False,  # the only checkpoint is the one a pause writes
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=4,
    )


def main(max_epochs: int, out: Path, devices: int) -> dict[str, Any]:
    L.seed_everything(0, verbose=False)
    train, val = data()
    callback = FtwatchCallback(method="supervised", flush_interval=0.1, close_timeout=5.0)
    fit = trainer(max_epochs, out, devices, [callback])
    fit.fit(Regression(), DataLoader(train, batch_size=32), DataLoader(val, batch_size=32))
    session, checkpoint = callback.session, callback.checkpoint
    reporter = session.reporter if session else None
    saved = torch.load(checkpoint, weights_only=False) if checkpoint else {}
    return {
        "rank": fit.global_rank,
        "world": fit.world_size,
        "epochs": fit.current_epoch,
        "step": fit.global_step,
        "acted": session.acted.action if session and session.acted else None,
        "checkpoint": checkpoint,
        "checkpoint_step": saved.get("global_step"),
        "has_weights": "layer.weight" in saved.get("state_dict", {}),
        "reporter": reporter is not None,
        "job_id": reporter.job_id if reporter else None,
    }


if __name__ == "__main__":
    out = Path(sys.argv[2])
    result = main(int(sys.argv[1]), out, int(sys.argv[3]))
    (out / f"rank{result['rank']}.json").write_text(json.dumps(result), encoding="utf-8")
