"""`FtwatchCallback` for the Lightning `Trainer` (`lightning.pytorch`, or the standalone
`pytorch_lightning`).

Training batches push `trainer.callback_metrics` without its validation keys (those
stay there between validations and would look like new evaluations), on the trainer's
`log_every_n_steps` and at most every `log_interval` seconds; each validation pushes
them all. Only global rank 0 talks to ftwatch. Its decision is looked at, and with
several ranks reaches every rank through `trainer.strategy.broadcast` (a collective all
ranks call), every `sync_every` optimizer steps and at each validation end. A pause runs
`trainer.save_checkpoint` on every rank, as distributed checkpointing requires, then
sets `trainer.should_stop`.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

try:
    from lightning.pytorch import Callback
except ImportError:  # the standalone package has the same API (another class to mypy)
    from pytorch_lightning import Callback  # type: ignore[assignment,unused-ignore]

from ftwatch_client.decision import Decision
from ftwatch_client.names import Metrics, lightning_names
from ftwatch_client.session import Session, checkpoint_path, code_of, decision_of

_VALIDATION = ("val_", "val/", "valid_")


def _train_only(metrics: Metrics) -> Metrics:
    return {k: v for k, v in metrics.items() if not k.startswith(_VALIDATION)}


class FtwatchCallback(Callback):  # type: ignore[misc,unused-ignore]  # Any without lightning
    """Push metrics to ftwatch (training batches at most every `log_interval` seconds,
    every validation end); on `pause` save `<checkpoint_dir>/ftwatch-<job>-step<N>.ckpt`
    (`trainer.save_checkpoint`) and stop, on `cancel` stop; ack with the checkpoint path.

    `checkpoint_dir` defaults to `trainer.default_root_dir`. Reporter options (`url`,
    `token`, `job_id`, `method`, ...) pass through; without `FTWATCH_URL` it does nothing.
    """

    def __init__(
        self,
        *,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        log_interval: float = 1.0,
        sync_every: int = 10,
        close_timeout: float = 5.0,
        **reporter_options: Any,
    ) -> None:
        super().__init__()
        self.checkpoint_dir = checkpoint_dir
        self.log_interval = log_interval
        self._logged_at = -math.inf
        self._log_every = 1
        self.sync_every = max(sync_every, 1)
        self.close_timeout = close_timeout
        self.reporter_options = reporter_options
        self.session: Session | None = None
        self.checkpoint: str | None = None
        self._total: int | None = None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.session = Session(bool(trainer.is_global_zero), self.reporter_options)
        self.session.start()
        self._total = _total(trainer)
        self._log_every = max(int(getattr(trainer, "log_every_n_steps", 1) or 1), 1)

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        # Runs on the training thread every batch: reading `callback_metrics` (tensors to
        # floats) is most of the cost, so it is done at most every `log_interval` seconds.
        if self.session is None:
            return
        step = int(trainer.global_step)
        now = time.monotonic()
        if step % self._log_every == 0 and now - self._logged_at >= self.log_interval:
            self._logged_at = now
            metrics = _train_only(lightning_names(trainer.callback_metrics))
            self.session.log(step, metrics, self._total)
        if step % self.sync_every == 0:  # every rank reaches the same steps
            self.session.beat(step)
            self._obey(trainer)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if self.session is None or trainer.sanity_checking:
            return
        metrics = lightning_names(trainer.callback_metrics)
        metrics["epoch"] = float(trainer.current_epoch)
        self.session.log(int(trainer.global_step), metrics, self._total)
        self._obey(trainer)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.session is not None:
            self.session.end(self.close_timeout)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if self.session is not None:
            self.session.end(self.close_timeout, status="failed")

    def _obey(self, trainer: Any) -> None:
        assert self.session is not None
        local = self.session.pending()
        decision = local
        if trainer.world_size > 1:
            decision = decision_of(trainer.strategy.broadcast(code_of(local), src=0), local)
        if decision is not None and not self.session.acted:
            self._carry_out(trainer, decision)

    def _carry_out(self, trainer: Any, decision: Decision) -> None:
        assert self.session is not None
        checkpoint = None
        if decision.action == "pause":
            directory = self.checkpoint_dir or trainer.default_root_dir
            job, step = self.session.job_id, int(trainer.global_step)
            checkpoint = checkpoint_path(directory, job, step, ".ckpt")
            if trainer.world_size > 1:  # every rank must write under rank 0's name
                checkpoint = trainer.strategy.broadcast(checkpoint, src=0)
            try:
                trainer.save_checkpoint(checkpoint)  # on every rank (distributed checkpoints)
            except Exception as exc:  # noqa: BLE001 - a full disk must not crash training; acked
                self.session.failed(decision, f"saving {checkpoint} failed: {exc}")
                return
        self.checkpoint = checkpoint
        trainer.should_stop = True
        self.session.done(decision, checkpoint)


def _total(trainer: Any) -> int | None:
    total = getattr(trainer, "estimated_stepping_batches", None)
    return int(total) if isinstance(total, int | float) and total != float("inf") else None
