"""The `do` of a rule (SPEC §5): "pause", "cancel", "resume", {resume: {...}}, {notify: name}."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, Discriminator, Field, Tag, model_validator

from workers.rules.durations import Duration, format_duration
from workers.rules.when import StrictModel


def _bare(word: str, value: Any, empty: Any) -> Any:
    """`"pause"` and `{pause: null}` both mean the action without options."""
    if value == word:
        return empty
    if isinstance(value, dict) and value == {word: None}:
        return empty
    return value


class PauseAction(StrictModel):
    """Pause the job (it keeps a snapshot and can be resumed)."""

    kind: ClassVar[str] = "pause"

    @model_validator(mode="before")
    @classmethod
    def _word(cls, value: Any) -> Any:
        return _bare("pause", value, {})

    def describe(self) -> str:
        return "pause"


class CancelAction(StrictModel):
    """Cancel the job (final)."""

    kind: ClassVar[str] = "cancel"

    @model_validator(mode="before")
    @classmethod
    def _word(cls, value: Any) -> Any:
        return _bare("cancel", value, {})

    def describe(self) -> str:
        return "cancel"


class ResumeParams(StrictModel):
    after: Duration | None = None  # delay before resuming (durable); none: right away
    max_times: int | None = Field(
        default=None, ge=1
    )  # resumes of one job by this rule; none: no cap


class ResumeAction(StrictModel):
    """Resume the job, optionally after a delay and at most `max_times` times per job."""

    kind: ClassVar[str] = "resume"
    resume: ResumeParams = Field(default_factory=ResumeParams)

    @model_validator(mode="before")
    @classmethod
    def _word(cls, value: Any) -> Any:
        return _bare("resume", value, {"resume": {}})

    def describe(self) -> str:
        text = "resume"
        if self.resume.after is not None:
            text += f" after {format_duration(self.resume.after)}"
        if self.resume.max_times is not None:
            text += f" (at most {self.resume.max_times} times)"
        return text


class NotifyAction(StrictModel):
    """Send the firing to a receiver declared in `receivers` (or the built-in `log`)."""

    kind: ClassVar[str] = "notify"
    notify: str = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _word(cls, value: Any) -> Any:
        return _bare("notify", value, {})

    def describe(self) -> str:
        return f"notify:{self.notify}"


_KINDS = {cls.kind for cls in (PauseAction, CancelAction, ResumeAction, NotifyAction)}


def _action_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return getattr(value, "kind", None)
    if isinstance(value, str):
        return value if value in _KINDS else None
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key if key in _KINDS else None
    return None


Action = Annotated[
    Annotated[PauseAction, Tag("pause")]
    | Annotated[CancelAction, Tag("cancel")]
    | Annotated[ResumeAction, Tag("resume")]
    | Annotated[NotifyAction, Tag("notify")],
    Discriminator(
        _action_tag,
        custom_error_type="action_kind",
        custom_error_message="must be pause, resume, cancel or {notify: <receiver>}",
    ),
]
