"""One simulated job: its timeline, driven by a monotonic clock, and its events (pure).

Timeline (seconds of *progress*, which stands still while paused or held):
0 validating_files → start_after/2 queued → start_after running → one metrics event per
`step_period` → after `stop_step` steps the final status. The job is advanced lazily,
whenever it is read; each event is stamped with the wall time at which it became due
(its visibility time), not the time somebody happened to look.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Literal

from simulator.errors import ApiError, invalid_state
from simulator.pagination import NewestFirstLog
from simulator.payloads import checkpoint_metrics, is_eval_step, metrics_data, metrics_message
from simulator.payloads import method_payload as _method
from simulator.scenario import JobError, JobSpec

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
Mode = Literal["timeline", "held", "resuming", "terminal"]
_STAGE_STATUS = {1: "validating_files", 2: "queued", 3: "running"}


def short_hash(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:24]


def _unit(*parts: object) -> float:
    """A number in [0, 1) that is a pure function of `parts`."""
    return int(short_hash(*parts)[:12], 16) / 16**12


class SimJob:
    """A job's state; every public method first advances it to `now`."""

    def __init__(
        self, spec: JobSpec, *, org: str, now: float, wall: float, owners: dict[str, str]
    ) -> None:
        assert spec.id is not None, "job ids are assigned before a job is built"
        self.spec, self.id, self.org = spec, spec.id, org
        self.events, self.checkpoints = NewestFirstLog(), NewestFirstLog()
        self._owners = owners  # event id → job id, shared across the platform
        self.status = "validating_files"
        self.mode: Mode = "timeline"
        self.paused_at: list[int] = []  # steps at which the job was paused
        self.progress, self.last = 0.0, now - spec.elapsed
        self.stage = self.step = self._seq = 0
        self.resume_until = 0.0
        self.created_at = int(wall - spec.elapsed)
        self.finished_at: int | None = None
        self.fine_tuned_model: str | None = None
        self.error: dict[str, Any] | None = None
        self.trained_tokens: int | None = None
        self.result_files: list[str] = []
        self._last_data: dict[str, Any] | None = None
        self._method = _method(spec)
        self._step_times = [spec.start_after]  # progress of step n, grown as steps come
        self.advance(now, wall)

    # -- clock -------------------------------------------------------------------------
    def advance(self, now: float, wall: float) -> None:
        """Emit everything that became due up to `now`."""
        if self.mode == "resuming" and now >= self.resume_until:
            self.mode, self.last = "timeline", self.resume_until
            self.status = _STAGE_STATUS.get(self.stage, "running")
            if self.stage == 3:
                self._message("Fine-tuning job started", wall - (now - self.resume_until))
        if self.mode == "timeline" and now >= self.last:
            target = self.progress + (now - self.last)
            self._run(target, lambda due: wall - (target - due))
        self.last = max(self.last, now)

    def fast_forward(
        self, now: float, wall: float, *, steps: int | None = None, seconds: float | None = None
    ) -> int:
        """Play `steps` more steps (or `seconds` of progress) at once; events visible now."""
        self.advance(now, wall)
        if self.mode != "timeline":
            raise ApiError(
                409,
                f"Job {self.id} is not advancing (status '{self.status}').",
                code="not_advancing",
            )
        before = len(self.events)
        if steps is not None:
            target = self._step_time(self.step + steps)
        else:
            target = self.progress + (seconds or 0.0)
        self._run(max(target, self.progress), lambda due: wall)
        return len(self.events) - before

    def _run(self, target: float, visible: Callable[[float], float]) -> None:
        while (due := self._next_due()) is not None and due <= target:
            self.progress = max(self.progress, due)
            self._fire(visible(due))
            if self.mode != "timeline":
                return
        self.progress = max(self.progress, target)

    def _next_due(self) -> float | None:
        spec = self.spec
        if self.stage < 3:
            return (0.0, spec.start_after / 2, spec.start_after)[self.stage]
        if self.stage == 3:
            return self._step_time(min(self.step + 1, spec.stop_step))
        return None

    def _step_time(self, n: int) -> float:
        """The progress at which step `n` is due (steps vary by `step_jitter`)."""
        spec = self.spec
        if not spec.step_jitter:
            return spec.start_after + n * spec.step_period
        times = self._step_times
        while len(times) <= n:
            share = spec.step_jitter * (2 * _unit(self.id, spec.seed, len(times)) - 1)
            times.append(times[-1] + spec.step_period * (1 + share))
        return times[n]

    def _fire(self, wall: float) -> None:
        if self.stage == 0:
            self._message(f"Created fine-tuning job: {self.id}", wall)
            self._message(f"Validating training file: {self.training_file}", wall)
        elif self.stage == 1:
            self._message("Files validated, moving job to queued state", wall)
        elif self.stage == 2:
            self._message("Fine-tuning job started", wall)
        elif self.step < self.spec.stop_step:
            self._step(wall)
            return
        else:
            self._finish(wall)
            return
        self.stage += 1
        self.status = _STAGE_STATUS[self.stage]

    def _step(self, wall: float) -> None:
        self.step += 1
        data = metrics_data(self.spec, self.step, self.paused_at)
        self._last_data = data
        self._emit(
            {"type": "metrics", "message": metrics_message(self.spec, data), "data": data}, wall
        )
        interval = self.spec.checkpoint_interval
        due = self.step % interval == 0 if interval else is_eval_step(self.spec, self.step)
        if due:
            self._checkpoint(wall)

    def _finish(self, wall: float) -> None:
        spec = self.spec
        self.stage, self.mode, self.finished_at = 4, "terminal", int(wall)
        if spec.final_status == "succeeded":
            self.fine_tuned_model = f"ft:{spec.base_model}:{self.org}::{short_hash(self.id)[:8]}"
            self.trained_tokens = spec.total_steps * spec.samples_per_step * 512
            self.result_files = ["file-" + short_hash(self.id, "results")]
            self._message(f"New fine-tuned model created: {self.fine_tuned_model}", wall)
            self._message("The job has successfully completed", wall)
        elif spec.final_status == "failed":
            error = spec.error or JobError()
            self.error = {"code": error.code, "message": error.message, "param": None}
            self._emit({"level": "error", "message": error.message}, wall)
        else:
            self._message("The job was cancelled", wall)
        self.status = spec.final_status

    # -- actions (the API's POST endpoints) ----------------------------------------------
    def pause(self, now: float, wall: float) -> None:
        """Pause requires `running`; a snapshot checkpoint is taken (RFT guide §pausing)."""
        self.advance(now, wall)
        if self.status != "running":
            raise invalid_state(self.id, "pause", self.status, "pause requires 'running'")
        self.mode, self.status = "held", "paused"
        self.paused_at.append(self.step)
        if self.step and not self._has_checkpoint(self.step):
            self._checkpoint(wall)
        self._message(f"Fine-tuning job paused at step {self.step}", wall)

    def resume(self, now: float, wall: float) -> None:
        """Resume requires `paused`; the job is `queued` for `resume_delay`, then runs on."""
        self.advance(now, wall)
        if self.status != "paused":
            raise invalid_state(self.id, "resume", self.status, "resume requires 'paused'")
        self.mode, self.status = "resuming", "queued"
        self.resume_until = now + self.spec.resume_delay
        self._message(f"Fine-tuning job resumed from step {self.step}", wall)
        self.advance(now, wall)

    def cancel(self, now: float, wall: float) -> None:
        self.advance(now, wall)
        if self.status in TERMINAL:
            raise invalid_state(self.id, "cancel", self.status, "the job has already finished")
        self.mode, self.status, self.finished_at = "terminal", "cancelled", int(wall)
        self._message("The job was cancelled", wall)

    def set_status(self, status: str, now: float, wall: float) -> None:
        """Force any status: terminal ends, `running` runs on, anything else holds still."""
        self.advance(now, wall)
        if status in TERMINAL:
            self.mode, self.status = "terminal", status
            self.finished_at = self.finished_at or int(wall)
        elif status == "running":
            self.mode, self.status = "timeline", "running"
            if self.stage < 3:
                self._run(max(self.progress, self.spec.start_after), lambda due: wall)
        else:
            self.mode, self.status = "held", status

    # -- events and checkpoints ----------------------------------------------------------
    def inject(self, items: list[Any], wall: float, *, complete: bool = False) -> list[Any]:
        """Append raw events as given (malformed ones too); `complete` fills missing keys."""
        ids = []
        for item in items:
            event = item
            if complete and isinstance(item, dict):
                self._seq += 1
                event = {
                    "object": "fine_tuning.job.event",
                    "id": self._event_id(),
                    "created_at": int(wall),
                    "level": "info",
                    "message": "",
                    "data": None,
                    "type": "message",
                } | item
            self.events.append(event, wall)
            event_id = event.get("id") if isinstance(event, dict) else None
            if isinstance(event_id, str):
                self._owners[event_id] = self.id
            ids.append(event_id)
        return ids

    def _event_id(self) -> str:
        return "ftevent-" + short_hash(self.id, "event", self._seq)

    def _emit(self, fields: dict[str, Any], wall: float) -> None:
        self._seq += 1
        event_id = self._event_id()
        event = {
            "object": "fine_tuning.job.event",
            "id": event_id,
            "created_at": int(wall),
            "level": "info",
            "message": "",
            "data": None,
            "type": "message",
        } | fields
        self.events.append(event, wall)
        self._owners[event_id] = self.id

    def _message(self, text: str, wall: float) -> None:
        self._emit({"message": text}, wall)

    def _has_checkpoint(self, step: int) -> bool:
        return bool(self.checkpoints.items) and self.checkpoints.items[-1]["step_number"] == step

    def _checkpoint(self, wall: float) -> None:
        name = (
            f"ft:{self.spec.base_model}:{self.org}::{short_hash(self.id)[:8]}:ckpt-step-{self.step}"
        )
        checkpoint = {
            "object": "fine_tuning.job.checkpoint",
            "id": "ftckpt_" + short_hash(self.id, "checkpoint", self.step, len(self.checkpoints)),
            "created_at": int(wall),
            "fine_tuned_model_checkpoint": name,
            "fine_tuning_job_id": self.id,
            "step_number": self.step,
            "metrics": checkpoint_metrics(self.step, self._last_data),
        }
        self.checkpoints.append(checkpoint, wall)
        self._message(f"Checkpoint created at step {self.step} with Snapshot ID: {name}", wall)

    # -- JSON ------------------------------------------------------------------------------
    @property
    def training_file(self) -> str:
        return "file-" + short_hash(self.id, "training")

    def to_json(self, wall: float) -> dict[str, Any]:
        """The `fine_tuning.job` object as the API returns it."""
        spec = self.spec
        estimated = None
        if self.status == "running" and self.mode == "timeline":
            end = spec.start_after + spec.stop_step * spec.step_period
            estimated = int(wall + max(end - self.progress, 0.0))
        return {
            "object": "fine_tuning.job",
            "id": self.id,
            "created_at": self.created_at,
            "error": self.error,
            "fine_tuned_model": self.fine_tuned_model,
            "finished_at": self.finished_at,
            "estimated_finish": estimated,
            "hyperparameters": {
                "batch_size": "auto",
                "learning_rate_multiplier": "auto",
                "n_epochs": "auto",
            },
            "model": spec.base_model,
            "organization_id": self.org,
            "result_files": list(self.result_files),
            "status": self.status,
            "trained_tokens": self.trained_tokens,
            "training_file": self.training_file,
            "validation_file": "file-" + short_hash(self.id, "validation"),
            "integrations": [],
            "seed": spec.seed,
            "metadata": spec.metadata,
            "method": self._method,
        }
