"""The normalized event: what the poller and the ingest API put on `ftwatch:events`."""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from service.models.ident import DEFAULT_PROVIDER, PROVIDER_NAME, job_key
from service.models.lifecycle import RecordedStatus

# The type of the events the poller adds when a job's status changes; their `data` holds
# the change of lifecycle status ({"from": ..., "to": ...}).
STATUS_EVENT = "status"


class EventFacts(BaseModel):
    """A normalized event as the rules read it: everything but the upstream `data`.

    The rules read metrics flattened into `metrics`; building the nested `data` again
    was nearly half the cost of parsing a metrics event (bench.pipeline). Parsed from a
    stream entry, the `data` key is skipped; everything else is validated as usual.
    """

    # NaN/inf travel as JSON constants: a diverging loss must reach the threshold rule.
    model_config = ConfigDict(extra="ignore", ser_json_inf_nan="constants", frozen=True)

    job_id: str = Field(min_length=1, max_length=256)
    event_id: str = Field(min_length=1, max_length=256)
    created_at: int = Field(ge=0)
    level: str = "info"
    type: str = "message"
    message: str = Field(default="", max_length=16_384)
    method: str | None = None
    model: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    status: RecordedStatus | None = None  # the job's lifecycle status when this was read
    # Entries written before providers existed say `source` (`openai` or `ingest`), which
    # are the default providers' names.
    provider: str = Field(
        default=DEFAULT_PROVIDER,
        pattern=f"^{PROVIDER_NAME.pattern}$",
        validation_alias=AliasChoices("provider", "source"),
    )
    metrics: dict[str, float] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        """`<provider>:<job_id>`: the job this event belongs to, as the store names it."""
        return job_key(self.provider, self.job_id)

    @cached_property  # every detector asks; an event is frozen, so it cannot change
    def step(self) -> int | None:
        """The training step of a metrics event, when it names one."""
        value = self.metrics.get("step")
        return int(value) if value is not None and math.isfinite(value) else None


class NormalizedEvent(EventFacts):
    """One job event plus the job facts rules match on, flattened metrics included."""

    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="constants", frozen=True)

    data: dict[str, Any] | None = None  # the upstream event's data, as it came
