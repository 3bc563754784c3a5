"""`FtwatchCallback` for Keras 3 `model.fit` (any backend that can fit: JAX, torch, TF).

Batches push `train_*` metrics (Keras' running epoch averages), each epoch end pushes
its training and `val_*` metrics as `valid_*` (an evaluation). Steps are optimizer
updates. Only process 0 talks to ftwatch; its decision is looked at every `sync_every`
batches and at each epoch end, and with several processes (JAX multi-host, or
torch.distributed under the torch backend) broadcast there, so every process stops at
the same batch.

The callback is `async_safe`: Keras runs its batch-end hook on a worker thread, so the
training loop never waits for a step's metrics to leave the device (a synchronous
batch-end hook would, and that wait, not our code, was nearly all of the cost). That
hook only reads and queues metrics; decisions are carried out on the training thread,
in `on_train_batch_begin` and `on_epoch_end`.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

import keras

from ftwatch_client.decision import Decision
from ftwatch_client.names import keras_names
from ftwatch_client.session import Session, checkpoint_path, code_of, decision_of


def _jax_processes() -> tuple[int, int]:
    import jax  # noqa: PLC0415 (only under the JAX backend)

    return jax.process_index(), jax.process_count()


def _torch_processes() -> tuple[int, int]:
    import torch.distributed as dist  # noqa: PLC0415 (only under the torch backend)

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def processes() -> tuple[int, int]:
    """(this process's index, how many) for the active backend; (0, 1) when alone."""
    backend = keras.backend.backend()
    if backend == "jax":
        return _jax_processes()
    if backend == "torch":
        return _torch_processes()
    return 0, 1  # TF MultiWorkerMirroredStrategy: not handled; every worker acts alone


def broadcast(code: int) -> int:
    """Process 0's `code` on every process (a collective: all must call it together)."""
    if keras.backend.backend() == "jax":
        import numpy as np  # noqa: PLC0415
        from jax.experimental import multihost_utils  # noqa: PLC0415

        return int(multihost_utils.broadcast_one_to_all(np.int32(code)))
    import torch  # noqa: PLC0415
    import torch.distributed as dist  # noqa: PLC0415

    tensor = torch.tensor([code], dtype=torch.int32)
    dist.broadcast(tensor, src=0)
    return int(tensor.item())


class FtwatchCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Push metrics to ftwatch: every epoch end, and a batch's running averages at most
    every `log_interval` seconds (as Keras' progress bar throttles) and `log_every` batches.
    On `pause` save `<checkpoint_dir>/ftwatch-<job>-step<N>.keras` (`model.save`) and
    stop, on `cancel` stop; ack either with the checkpoint path.

    Reporter options (`url`, `token`, `job_id`, `method`, `model`, `metadata`, ...) pass
    through; without `FTWATCH_URL` it does nothing.
    """

    def __init__(
        self,
        *,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        log_every: int = 1,
        log_interval: float = 1.0,
        sync_every: int = 10,
        close_timeout: float = 5.0,
        **reporter_options: Any,
    ) -> None:
        super().__init__()
        self.checkpoint_dir = checkpoint_dir or os.path.join(os.getcwd(), "ftwatch-checkpoints")
        self.log_every, self.sync_every = max(log_every, 1), max(sync_every, 1)
        self.log_interval = log_interval
        self._logged_at = -math.inf
        self.close_timeout = close_timeout
        self.reporter_options = reporter_options
        self.session: Session | None = None
        self.checkpoint: str | None = None  # the path the last pause saved
        self._world = 1
        self._epoch_start = 0  # optimizer updates done when the epoch began
        self._step = 0  # updates done, as the training thread last saw
        self._logged = -1  # the newest step queued by the (threaded) batch-end hook
        self._lock = threading.Lock()

    # Keras may run on_train_batch_end on its thread pool (see the module's docstring).
    async_safe = True

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        rank, self._world = processes()
        self.session = Session(rank == 0, self.reporter_options)
        self.session.start()

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        # Read once an epoch: on JAX `self.model` syncs device state, too dear per batch.
        self._epoch_start = self._iterations()
        self._step = self._epoch_start

    def on_train_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        # Every batch runs this on the training thread: one sum and one modulo, and the
        # decision is looked at every `sync_every` batches (alone or not), not every batch.
        step = self._epoch_start + batch
        if step % self.sync_every == 0 and self.session is not None:
            self._step = step
            self._obey(self.session)

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        session = self.session
        step = self._epoch_start + batch + 1
        if session is None or step % self.log_every:
            return
        if time.monotonic() - self._logged_at < self.log_interval:
            return  # most batches: no lock taken (it is checked again under the lock)
        with self._lock:
            # Worker threads may finish out of order; Keras' batch logs are running
            # averages, so a later step's figures supersede an earlier step's.
            if step <= self._logged or time.monotonic() - self._logged_at < self.log_interval:
                return
            self._logged, self._logged_at = step, time.monotonic()
            session.log(step, keras_names(logs), self._total())
            session.beat(step)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.session is None:
            return
        metrics = keras_names(logs)
        metrics["epoch"] = float(epoch + 1)
        self._step = self._iterations()  # also after an early stop
        with self._lock:  # Keras waited for the batch hooks: none is running
            self._logged = self._step
            self.session.log(self._step, metrics, self._total())
        self._obey(self.session)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.session is not None:
            self.session.end(self.close_timeout)

    def _iterations(self) -> int:
        """Optimizer updates done (`.value`: `.numpy()` warns under numpy 2 on JAX)."""
        return int(self.model.optimizer.iterations.value)

    def _total(self) -> int | None:
        steps, epochs = self.params.get("steps"), self.params.get("epochs")
        return int(steps) * int(epochs) if steps and epochs else None

    def _obey(self, session: Session) -> None:
        local = session.pending()
        decision = local if self._world == 1 else decision_of(broadcast(code_of(local)), local)
        if decision is not None and not session.acted:
            self._carry_out(session, decision)

    def _carry_out(self, session: Session, decision: Decision) -> None:
        checkpoint = None
        if decision.action == "pause" and session.reporter is not None:
            checkpoint = checkpoint_path(self.checkpoint_dir, session.job_id, self._step, ".keras")
            try:
                os.makedirs(os.path.dirname(checkpoint), exist_ok=True)
                self.model.save(checkpoint)
            except Exception as exc:  # noqa: BLE001 - a full disk must not crash training; acked
                session.failed(decision, f"saving {checkpoint} failed: {exc}")
                return
        self.checkpoint = checkpoint
        self.model.stop_training = True
        session.done(decision, checkpoint)
