"""FtwatchCallback driven through transformers' own Trainer classes against a real ftwatch.

`TrainingArguments`, `TrainerState`, `TrainerControl`, `CallbackHandler` and
`DefaultFlowCallback` are the real ones (they also import without torch); `step` below calls
the hooks in the order `Trainer._inner_training_loop` does (trainers.md §1.4).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ftwatch_client.transformers import FtwatchCallback
from transformers import TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_callback import CallbackHandler, DefaultFlowCallback

from tests.client.e2e import TRAINER, acks, read
from tests.support import FtwatchProcess, eventually


@dataclass
class Loop:
    """The Trainer's side of the hooks: its arguments, state, control and handler."""

    args: TrainingArguments
    handler: CallbackHandler
    callback: FtwatchCallback
    state: TrainerState
    control: TrainerControl
    saved: list[str]

    def step(self, logs: dict[str, float], evaluation: dict[str, float]) -> tuple[bool, bool]:
        """One optimizer update with its log, evaluation and save; returns
        (should_save, should_training_stop) as the Trainer reads them before saving."""
        args, state, h = self.args, self.state, self.handler
        self.control = h.on_step_begin(args, state, self.control)
        state.global_step += 1
        self.control = h.on_step_end(args, state, self.control)
        if self.control.should_log:
            self.control = h.on_log(args, state, self.control, logs=dict(logs))
        if self.control.should_evaluate:
            self.control = h.on_log(args, state, self.control, logs=dict(evaluation))
            self.control = h.on_evaluate(args, state, self.control, metrics=dict(evaluation))
        seen = (self.control.should_save, self.control.should_training_stop)
        if self.control.should_save:  # Trainer._save_checkpoint, then on_save
            path = os.path.join(str(args.output_dir), f"checkpoint-{state.global_step}")
            os.makedirs(path)
            self.saved.append(path)
            self.control = h.on_save(args, state, self.control)
            self.control.should_save = False
        return seen

    def end(self) -> None:
        self.control = self.handler.on_train_end(self.args, self.state, self.control)


@pytest.fixture
def loop(ftwatch: FtwatchProcess, tmp_path: Path) -> Iterator[Loop]:
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"),
        eval_strategy="steps",
        eval_steps=2,
        logging_steps=1,
        save_strategy="no",  # only a pause asks for a checkpoint here
        report_to=[],
    )
    callback = FtwatchCallback(
        url=ftwatch.url, token=TRAINER, job_id="hf-1", method="reinforcement",
        flush_interval=0.05,
    )  # fmt: skip
    handler = CallbackHandler(  # type: ignore[no-untyped-call]
        [DefaultFlowCallback, callback], None, None, None, None
    )
    state, control = TrainerState(max_steps=10_000), TrainerControl()
    state.compute_steps(args, 10_000)  # type: ignore[no-untyped-call] # as Trainer does
    control = handler.on_train_begin(args, state, control)
    yield Loop(args, handler, callback, state, control, [])
    if callback.session and callback.session.reporter:  # a failed test never reached end()
        callback.session.reporter.close(0.5)


async def test_a_plateau_on_eval_loss_makes_the_trainer_save_then_stop(
    loop: Loop, ftwatch: FtwatchProcess
) -> None:
    losses = iter([1.0, 0.9, 0.9, 0.9])  # then 0.9 for good: no improvement after the 2nd

    async def decided() -> tuple[bool, bool] | None:
        evaluation = {"eval_loss": next(losses, 0.9), "eval_runtime": 0.1, "epoch": 0.5}
        seen = loop.step({"loss": 0.5, "grad_norm": 1.2, "learning_rate": 1e-5}, evaluation)
        return seen if seen[1] else None

    seen = await eventually(decided, timeout=30, interval=0.05, message="stop requested")
    assert seen == (True, True)  # should_save and should_training_stop, in the same step
    step = loop.state.global_step
    checkpoint = os.path.join(str(loop.args.output_dir), f"checkpoint-{step}")
    assert loop.saved == [checkpoint] and loop.callback.checkpoint == checkpoint
    loop.end()
    job = await read(f"{ftwatch.url}/v1/jobs/ingest:hf-1")
    assert job["status"] == "paused", job
    assert job["metrics"]["valid_loss"] == job["metrics"]["eval_loss"] == 0.9
    assert job["metrics"]["train_loss"] == 0.5 and "eval_runtime" in job["metrics"]
    (ack,) = await acks(ftwatch, "ingest:hf-1")
    assert (ack["rule"], ack["checkpoint"]) == ("loss-plateau", checkpoint)


async def test_trl_reward_names_and_a_cancel_stop_without_saving(
    loop: Loop, ftwatch: FtwatchProcess
) -> None:
    grpo = {"loss": 0.1, "reward": 0.4, "reward_std": 0.1, "rewards/accuracy/mean": 0.4}
    loop.step(grpo, {"eval_loss": 1.0})

    async def cancelled() -> tuple[bool, bool] | None:
        seen = loop.step(grpo | {"reward": math.nan}, {"eval_loss": 1.0 - loop.state.global_step})
        return seen if seen[1] else None

    seen = await eventually(cancelled, timeout=30, interval=0.05, message="stop requested")
    assert seen == (False, True)  # a cancel stops without a checkpoint
    loop.end()
    job = await read(f"{ftwatch.url}/v1/jobs/ingest:hf-1")
    assert (job["status"], job["method"]) == ("cancelled", "reinforcement"), job
    assert job["metrics"]["graders.accuracy.train_reward_mean"] == 0.4
    assert job["metrics"]["rewards/accuracy/mean"] == 0.4
    assert job["metrics"]["train_reward_mean"] == "NaN"
    (ack,) = await acks(ftwatch, "ingest:hf-1")
    assert (ack["rule"], ack["checkpoint"]) == ("reward-nan", None)


async def test_a_decision_after_the_last_step_leaves_the_finished_run_succeeded(
    loop: Loop, ftwatch: FtwatchProcess
) -> None:
    session = loop.callback.session
    assert session is not None and session.reporter is not None
    for step, loss in enumerate([1.0, 0.9, 0.9, 0.9, 0.9], start=1):  # past the loop's hooks
        session.reporter.log(step, {"valid_loss": loss})

    async def pending() -> object:
        return session.pending()

    await eventually(pending, timeout=30, interval=0.05, message="decision pending")
    # The end of train(): its summary log comes after the last step, when nothing is saved.
    summary = {"train_runtime": 1.0, "train_loss": 0.5, "epoch": 1.0}
    loop.control = loop.handler.on_log(loop.args, loop.state, loop.control, logs=summary)
    assert (loop.control.should_save, loop.callback.checkpoint) == (False, None)
    loop.end()
    job = await read(f"{ftwatch.url}/v1/jobs/ingest:hf-1")
    assert job["status"] == "succeeded", job  # not paused without a checkpoint
    assert await acks(ftwatch, "ingest:hf-1") == []
