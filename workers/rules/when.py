"""The `when` of a rule (SPEC §5): one condition, written as a one-key mapping.

The built-in kinds' parameters; the union of every registered kind is built in
workers/rules/conditions.py.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from service.models.lifecycle import Status, parse
from workers.rules.durations import Duration


class StrictModel(BaseModel):
    """Rules-file models: unknown keys, wrong types and NaN/inf are errors, not guesses."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


def as_list(value: Any) -> Any:
    """A single string stands for a one-item list; anything else but a list is an error."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise ValueError("must be a string or a list of strings")
    return value


MetricName = Annotated[str, Field(min_length=1, max_length=256)]


def as_statuses(value: Any) -> Any:
    """`as_list`, with OpenAI's older names (validating_files, pending) mapped to ftwatch's."""
    items = as_list(value)
    return [parse(v) if isinstance(v, str) else v for v in items]


Statuses = Annotated[list[Status], BeforeValidator(as_statuses), Field(min_length=1)]


class Plateau(StrictModel):
    """A metric that stopped improving (Keras EarlyStopping semantics, plus more)."""

    metric: (
        MetricName  # flattened metric name, e.g. valid_reward_mean or graders.g.train_reward_mean
    )
    mode: Literal["max", "min"] = "max"  # max: higher is better (rewards); min: lower (losses)
    patience: int = Field(default=3, ge=1)  # evaluations in a row without improvement that fire
    min_delta: float = Field(default=0.0, ge=0)  # an improvement beats the best by more than this
    min_delta_rel: float = Field(default=0.0, ge=0)  # ...and by more than this fraction of |best|
    warmup_steps: int = Field(default=0, ge=0)  # before this step: set the best, never count
    smoothing: float = Field(default=0.0, ge=0, lt=1)  # EMA weight of the past; 0 = raw values
    baseline: float | None = None  # the best starts here: the metric must beat it to improve


class ErrorRate(StrictModel):
    """Grader error rate: per grader the sum of its train_*_error_mean, worst grader, windowed."""

    threshold: float = Field(default=0.25, gt=0)  # fires when the windowed rate is above this
    window_steps: int = Field(default=5, ge=1, le=1000)  # steps averaged; fires only when full
    clear_below: float | None = Field(default=None, ge=0)  # re-arms below; default threshold/2

    @field_validator("clear_below")
    @classmethod
    def _below_threshold(cls, value: float | None, info: ValidationInfo) -> float | None:
        threshold = info.data.get("threshold")
        if value is not None and threshold is not None and value >= threshold:
            raise ValueError(f"must be < threshold ({threshold})")
        return value

    @property
    def clear_level(self) -> float:
        """The rate under which a firing condition clears (hysteresis, so it does not flap)."""
        return self.clear_below if self.clear_below is not None else self.threshold / 2


class Threshold(StrictModel):
    """A metric above or below a value, or non-finite (NaN/inf: a diverging loss)."""

    metric: MetricName
    above: float | None = None  # breached when the value is > above
    below: float | None = None  # breached when the value is < below
    non_finite: bool = False  # breached when the value is NaN or ±inf
    consecutive: int = Field(default=1, ge=1)  # evaluations in a row breached before it fires

    @field_validator("below")
    @classmethod
    def _band(cls, value: float | None, info: ValidationInfo) -> float | None:
        above = info.data.get("above")
        if value is not None and above is not None and value >= above:
            raise ValueError(f"must be < above ({above}), or every value breaches")
        return value

    @model_validator(mode="after")
    def _some_condition(self) -> Threshold:
        if self.above is None and self.below is None and not self.non_finite:
            raise ValueError("needs at least one of above, below, non_finite: true")
        return self


_TALKING: list[Status] = ["running"]


class Stalled(StrictModel):
    """A job in one of `statuses` with no new event for `for` (timer-driven)."""

    for_: Duration = Field(alias="for")  # how long without a new event
    statuses: Statuses = Field(default_factory=_TALKING.copy)  # statuses that should talk


class WhenBase(StrictModel):
    """A rule's `when`: one key, a detector kind's name, whose value is its parameters.

    The model of each registered kind is made from this base in workers/rules/conditions.py.
    """

    kind: ClassVar[str]

    @property
    def params(self) -> Any:
        """The value under the kind's key (e.g. a Plateau), as its detector takes it."""
        return getattr(self, self.kind)
