"""`FtwatchCallback` for the Hugging Face `Trainer`, and so for TRL's trainers (GRPO, DPO,
SFT, ...), which are `Trainer` subclasses.

Every `on_log` is pushed (training logs, evaluations, the final summary) with the names
mapped (`loss`→`train_loss`, `eval_loss`→`valid_loss`, `reward`→`train_reward_mean`, ...).
Only the world's process zero talks to ftwatch. With several processes the decision is
broadcast from it (`torch.distributed.broadcast_object_list`) in `on_step_end` every
`sync_every` steps, a hook every rank reaches at the same step, so all save and stop
together; alone, a decision is obeyed at the next hook, but not at the final summary's
`on_log` (training is over: the run reports `succeeded`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState

from ftwatch_client.decision import Decision
from ftwatch_client.names import transformers_names
from ftwatch_client.session import Session, code_of, decision_of

# transformers' own name for the directories `Trainer._save_checkpoint` writes.
PREFIX_CHECKPOINT_DIR = "checkpoint"


def _world_size(args: Any) -> int:
    """The number of processes; 1 without torch.distributed (as in a torch-free test)."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return 1
    return int(dist.get_world_size())


def _final_summary(logs: Mapping[str, Any] | None) -> bool:
    """The end of `train()`'s log: after the last step, when nothing is saved any more (a
    decision obeyed there would be acked as a pause, with no checkpoint, of a finished run)."""
    return logs is not None and "train_runtime" in logs and "loss" not in logs


def _broadcast(code: int) -> int:
    import torch.distributed as dist  # noqa: PLC0415 (only with several processes)

    box = [code]
    dist.broadcast_object_list(box, src=0)
    return int(box[0])


class FtwatchCallback(TrainerCallback):
    """Push the Trainer's logs to ftwatch; on `pause` set `control.should_save` and
    `control.should_training_stop` (the Trainer writes `<output_dir>/checkpoint-<step>`,
    then stops), on `cancel` only the latter; ack with the checkpoint path once saved.

    Reporter options (`url`, `token`, `job_id`, `method`, `model`, `metadata`, ...) pass
    through; without `FTWATCH_URL` it does nothing.
    """

    def __init__(self, *, sync_every: int = 10, close_timeout: float = 5.0, **options: Any) -> None:
        self.sync_every = max(sync_every, 1)
        self.close_timeout = close_timeout
        self.reporter_options = options
        self.session: Session | None = None
        self.checkpoint: str | None = None
        self._saving: Decision | None = None  # a pause whose checkpoint is being written
        self._eval_step: int | None = None  # evaluation already pushed by on_log

    def on_train_begin(
        self, args: Any, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.session = Session(state.is_world_process_zero, self.reporter_options)
        self.session.start()

    def on_log(
        self,
        args: Any,
        state: TrainerState,
        control: TrainerControl,
        logs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if any(str(k).startswith("eval_") for k in logs or {}):
            self._eval_step = state.global_step
        self._push(args, state, control, logs)

    def on_evaluate(
        self,
        args: Any,
        state: TrainerState,
        control: TrainerControl,
        metrics: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # The Trainer logs an evaluation (on_log) before on_evaluate: push it once.
        if self._eval_step != state.global_step:
            self._push(args, state, control, metrics)

    def on_step_end(
        self, args: Any, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self.session is None:
            return
        self.session.beat(state.global_step)
        world = _world_size(args)
        if world == 1:
            self._obey(args, state, control, self.session.pending())
        elif state.global_step % self.sync_every == 0:
            local = self.session.pending()
            self._obey(args, state, control, decision_of(_broadcast(code_of(local)), local))

    def on_save(
        self, args: Any, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self._saving is not None and self.session is not None:
            self.checkpoint = self._checkpoint_dir(args, state)
            self.session.done(self._saving, self.checkpoint)
            self._saving = None

    def on_train_end(
        self, args: Any, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self.session is None:
            return
        if self._saving is not None:  # save_strategy="best" overrode our should_save:
            self.session.done(self._saving)  # it stopped all the same, with no checkpoint
        self.session.end(self.close_timeout)

    def _push(
        self,
        args: Any,
        state: TrainerState,
        control: TrainerControl,
        logs: Mapping[str, Any] | None,
    ) -> None:
        if self.session is None:
            return
        metrics = transformers_names(logs)
        self.session.log(state.global_step, metrics, state.max_steps)
        # Alone: obey now (on_log runs before the step's save), unless the run is over.
        if _world_size(args) == 1 and not _final_summary(logs):
            self._obey(args, state, control, self.session.pending())

    def _obey(
        self, args: Any, state: TrainerState, control: TrainerControl, decision: Decision | None
    ) -> None:
        assert self.session is not None
        if decision is None or self.session.acted or self._saving is not None:
            return
        control.should_training_stop = True
        if decision.action == "cancel":
            self.session.done(decision)
            return
        control.should_save = True
        self._saving = decision

    @staticmethod
    def _checkpoint_dir(args: Any, state: TrainerState) -> str:
        name = f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
        return os.path.abspath(os.path.join(str(args.output_dir), name))
