"""Lenient pydantic models of the upstream objects (reference/openai-api.md §2-§4).

Lenient on purpose: `status` is an open string, `data` may be null, every metric key is
optional, and unknown fields pass through, because the real API returns all of these.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.models.lifecycle import Status, is_terminal, of_kind

METHOD_TYPES = frozenset({"supervised", "dpo", "reinforcement"})
# A provider detail's value: a scalar, as vendors report such facts.
Detail = str | bool | int | float | None


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class JobMethod(_Lenient):
    type: str = "supervised"


class JobError(_Lenient):
    code: str | None = None
    message: str | None = None
    param: str | None = None


class Job(_Lenient):
    """A fine-tuning job as `GET /fine_tuning/jobs/{id}` returns it."""

    id: str
    status: str
    model: str = ""
    created_at: int = 0
    finished_at: int | None = None
    estimated_finish: int | None = None
    # Seconds the provider expects the job still to run, when its API says so directly
    # (Together's progress); a provider-neutral hint for the poll cadence model.
    seconds_remaining: float | None = None
    fine_tuned_model: str | None = None
    method: JobMethod | None = None
    metadata: dict[str, str] | None = None
    error: JobError | None = None
    # The provider kind whose words `status` is in (lifecycle.TABLES): set by the provider
    # that read the job, kept through the listing cache, so every reader maps it alike.
    status_kind: str = "openai"
    # Vendor facts ftwatch has no field for (Together's early stopping), shown as they are.
    provider_details: dict[str, Detail] = Field(default_factory=dict)

    @property
    def lifecycle(self) -> Status:
        """ftwatch's status for the vendor's `status`."""
        return of_kind(self.status_kind, self.status)

    @property
    def method_type(self) -> str:
        """supervised, dpo or reinforcement; jobs created before `method` existed are SFT."""
        return self.method.type if self.method else "supervised"

    @property
    def is_terminal(self) -> bool:
        return is_terminal(self.lifecycle)

    def remaining_at(self, now: float) -> float | None:
        """Seconds the job should still run, from `seconds_remaining` or `estimated_finish`."""
        if self.seconds_remaining is not None:
            return self.seconds_remaining
        return None if self.estimated_finish is None else self.estimated_finish - now


class JobEvent(_Lenient):
    """One entry of `GET /fine_tuning/jobs/{id}/events`."""

    id: str
    created_at: int
    level: str = "info"
    message: str = ""
    type: str = "message"
    data: dict[str, Any] | None = None

    @field_validator("level", mode="before")
    @classmethod
    def _level_default(cls, value: Any) -> Any:
        return "info" if value is None else value

    @field_validator("type", mode="before")
    @classmethod
    def _type_default(cls, value: Any) -> Any:
        return "message" if value is None else value

    @field_validator("message", mode="before")
    @classmethod
    def _message_default(cls, value: Any) -> Any:
        return "" if value is None else value


class Checkpoint(_Lenient):
    id: str
    created_at: int = 0
    fine_tuned_model_checkpoint: str = ""
    fine_tuning_job_id: str = ""
    step_number: int = 0
    metrics: dict[str, Any] = Field(default_factory=dict)


T = TypeVar("T")


class Page(_Lenient, Generic[T]):
    """A cursor page: `{object: "list", data: [...], has_more}`."""

    object: str = "list"
    data: list[T]
    has_more: bool = False
