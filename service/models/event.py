"""The normalized event: what the poller and the ingest API put on `ftwatch:events`."""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.models.metrics import flatten_metrics
from service.upstream.models import Job, JobEvent

Source = Literal["openai", "ingest"]


class NormalizedEvent(BaseModel):
    """One job event plus the job facts rules match on, flattened metrics included."""

    # NaN/inf travel as JSON constants: a diverging loss must reach the threshold rule.
    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="constants", frozen=True)

    job_id: str = Field(min_length=1, max_length=256)
    event_id: str = Field(min_length=1, max_length=256)
    created_at: int = Field(ge=0)
    level: str = "info"
    type: str = "message"
    message: str = Field(default="", max_length=16_384)
    data: dict[str, Any] | None = None
    method: str | None = None
    model: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    status: str | None = None
    source: Source = "openai"
    metrics: dict[str, float] = Field(default_factory=dict)

    @cached_property  # every detector asks; an event is frozen, so it cannot change
    def step(self) -> int | None:
        """The training step of a metrics event, when it names one."""
        value = self.metrics.get("step")
        return int(value) if value is not None and math.isfinite(value) else None


MAX_MESSAGE = 16_384


def normalize(job: Job, event: JobEvent, source: Source = "openai") -> NormalizedEvent:
    """Build the normalized event of one upstream event of `job` (pure)."""
    message = event.message
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    return NormalizedEvent(
        job_id=job.id,
        event_id=event.id,
        created_at=max(event.created_at, 0),
        level=str(event.level),
        type=str(event.type),
        message=message,
        data=event.data,
        method=job.method_type,
        model=job.model or None,
        metadata=dict(job.metadata or {}),
        status=job.status,
        source=source,
        metrics=flatten_metrics(event.data),
    )
