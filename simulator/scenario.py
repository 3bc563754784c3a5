"""Scenario files: the scripted jobs and faults the simulator plays (YAML or JSON)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simulator.curves import Curve
from simulator.faults import Faults

Method = Literal["supervised", "dpo", "reinforcement"]
GraderType = Literal["string_check", "text_similarity", "python", "score_model"]
ErrorCategory = Literal["sample_parse_error", "invalid_variable_error", "other_error"]

SFT_METRICS = ("train_loss", "train_mean_token_accuracy", "valid_loss", "valid_mean_token_accuracy")
RFT_METRICS = ("train_reward_mean", "valid_reward_mean")

_DEFAULT_CURVES: dict[str, dict[str, Curve]] = {
    "supervised": {
        "train_loss": Curve(kind="exp", start=2.2, end=0.4, noise=0.02, seed=1, min=0.0),
        "train_mean_token_accuracy": Curve(start=0.55, end=0.9, noise=0.01, seed=2, max=1.0),
        "valid_loss": Curve(kind="exp", start=2.3, end=0.5, noise=0.02, seed=3, min=0.0),
        "valid_mean_token_accuracy": Curve(start=0.5, end=0.85, noise=0.01, seed=4, max=1.0),
    },
    "reinforcement": {
        "train_reward_mean": Curve(start=0.3, end=0.75, noise=0.02, seed=5, min=0.0, max=1.0),
        "valid_reward_mean": Curve(start=0.3, end=0.72, noise=0.005, seed=6, min=0.0, max=1.0),
    },
}
_DEFAULT_CURVES["dpo"] = _DEFAULT_CURVES["supervised"]


class ScenarioError(ValueError):
    """An invalid scenario; the message names every problem with its location."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GraderSpec(_Strict):
    name: str = Field(min_length=1)
    type: GraderType = "score_model"


class GraderErrorBurst(_Strict):
    """Steps `from_step..to_step` (inclusive) where `rate` of the grader's samples error."""

    grader: str
    from_step: int = Field(ge=1)
    to_step: int = Field(ge=1)
    rate: float = Field(ge=0, le=1)
    category: ErrorCategory = "other_error"
    # True: someone fixes the grader while the job is paused, so a pause during the burst
    # ends it (what a team does after ftwatch pauses a job whose grader is failing).
    fixed_on_pause: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> GraderErrorBurst:
        if self.to_step < self.from_step:
            raise ValueError("to_step must be >= from_step")
        return self


class JobError(_Strict):
    code: str = "internal_error"
    message: str = "The job failed due to an internal error."


class JobSpec(_Strict):
    """One scripted job: its identity, its timeline and its metric curves."""

    id: str | None = Field(default=None, min_length=1)
    method: Method = "supervised"
    model: str | None = None
    metadata: dict[str, str] | None = None
    seed: int = 42
    step_period: float = Field(default=1.0, gt=0)
    # Each step takes step_period x (1 +- up to this share), drawn per step from the seed:
    # real steps vary, and a watcher that learns a job's pace must cope with it.
    step_jitter: float = Field(default=0.0, ge=0, lt=1)
    total_steps: int = Field(default=20, ge=1)
    eval_interval: int = Field(default=5, ge=1)
    checkpoint_interval: int | None = Field(default=None, ge=1)
    start_after: float = Field(default=2.0, ge=0)
    resume_delay: float = Field(default=1.0, ge=0)
    elapsed: float = Field(default=0.0, ge=0)
    samples_per_step: int = Field(default=32, ge=1)
    metrics: dict[str, Curve] = Field(default_factory=dict)
    graders: list[GraderSpec] = Field(default_factory=list)
    grader_errors: list[GraderErrorBurst] = Field(default_factory=list)
    final_status: Literal["succeeded", "failed", "cancelled"] = "succeeded"
    stop_at_step: int | None = Field(default=None, ge=1)
    # Together's early stopping: the job succeeds at this step, before total_steps, and
    # the together flavor says so (`early_stopped`, the best eval step and its loss).
    early_stop_at: int | None = Field(default=None, ge=1)
    error: JobError | None = None

    @model_validator(mode="after")
    def _consistent(self) -> JobSpec:
        allowed = RFT_METRICS if self.method == "reinforcement" else SFT_METRICS
        for name in self.metrics:
            if name not in allowed:
                known = ", ".join(allowed)
                raise ValueError(f"metrics.{name}: not a {self.method} metric ({known})")
        if self.method != "reinforcement" and (self.graders or self.grader_errors):
            raise ValueError("graders and grader_errors need method: reinforcement")
        names = {grader.name for grader in self.graders} or {"grader"}
        for burst in self.grader_errors:
            if burst.grader not in names:
                raise ValueError(f"grader_errors: unknown grader {burst.grader!r}")
        if self.stop_at_step is not None and self.stop_at_step > self.total_steps:
            raise ValueError("stop_at_step must be <= total_steps")
        if self.final_status == "succeeded" and self.stop_at_step not in (None, self.total_steps):
            raise ValueError("a succeeded job runs all total_steps; drop stop_at_step")
        return self._early_stop_fits()

    def _early_stop_fits(self) -> JobSpec:
        if self.early_stop_at is None:
            return self
        if self.final_status != "succeeded" or self.early_stop_at > self.total_steps:
            raise ValueError("early_stop_at: needs final_status succeeded and at most total_steps")
        return self

    @property
    def stop_step(self) -> int:
        return self.stop_at_step or self.early_stop_at or self.total_steps

    @property
    def base_model(self) -> str:
        if self.model:
            return self.model
        return "o4-mini-2025-04-16" if self.method == "reinforcement" else "gpt-4o-mini-2024-07-18"

    @property
    def grader_list(self) -> list[GraderSpec]:
        return self.graders or [GraderSpec(name="grader")]

    def curve(self, name: str) -> Curve:
        """The curve of metric `name`: the scenario's, else the method's default."""
        return self.metrics.get(name) or _DEFAULT_CURVES[self.method][name]


class Scenario(_Strict):
    """A whole scenario: jobs (ids filled in deterministically from `seed`) and faults."""

    seed: int = 0
    organization_id: str = "org-sim"
    faults: Faults = Field(default_factory=Faults)
    jobs: list[JobSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ids(self) -> Scenario:
        seen: set[str] = set()
        for index, job in enumerate(self.jobs):
            if job.id is None:
                job.id = job_id_for(self.seed, index)
            if job.id in seen:
                raise ValueError(f"jobs[{index}].id: duplicate job id {job.id!r}")
            seen.add(job.id)
        return self


def job_id_for(seed: int, index: int) -> str:
    """`ftjob-<24 hex>`, a pure function of the scenario seed and the job's index."""
    return "ftjob-" + hashlib.sha256(f"{seed}:{index}".encode()).hexdigest()[:24]


def format_errors(error: ValidationError) -> str:
    """`jobs[2].metrics.train_loss.kind: Input should be ...`, one line per problem."""
    lines = []
    for item in error.errors():
        where = ""
        for part in item["loc"]:
            where += f"[{part}]" if isinstance(part, int) else f".{part}"
        message = item["msg"].removeprefix("Value error, ")
        head, sep, tail = message.partition(": ")
        # Cross-field checks name their field first ("metrics.x: ..."): fold it into the path.
        if item["type"] == "value_error" and sep and re.fullmatch(r"[\w.\[\]]+", head):
            where, message = f"{where}.{head}", tail
        lines.append(f"{where.lstrip('.') or '(top)'}: {message}")
    return "\n".join(lines)


def parse_scenario(raw: Any, source: str = "scenario") -> Scenario:
    """Validate already-parsed YAML/JSON; raise ScenarioError naming each location."""
    try:
        return Scenario.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        raise ScenarioError(f"{source}: invalid scenario\n{format_errors(exc)}") from None


def load_scenario(path: str | Path) -> Scenario:
    """Read a YAML or JSON scenario file (JSON by suffix `.json`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ScenarioError(f"{path}: cannot read: {reason}") from None
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: cannot parse: {exc}") from None
    return parse_scenario(raw, str(path))
