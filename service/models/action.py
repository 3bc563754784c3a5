"""An action task: one pause, resume or cancel that a firing (or the API) asked for."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from service.models.firing import Firing
from service.models.ident import INGEST_PROVIDER

ActionName = Literal["pause", "resume", "cancel"]


class ActionTask(BaseModel):
    """Queued on `ftwatch:action-queue` (or delayed); executed once per (firing, action)."""

    model_config = ConfigDict(ser_json_inf_nan="constants")

    action: ActionName
    firing: Firing
    # Written by the version before providers: "ingest" for an ingested job's task.
    source: str | None = None
    notify: list[str] = []  # receivers told when the action fails
    # On a pause whose rule also resumes: schedule that resume this many seconds after
    # the pause took effect. Scheduled from the firing instead, a resume could come due
    # before a delayed pause (retries, a crash), find the job running and count as
    # done, and the pause that followed would leave the job paused for good.
    resume_after: float | None = None

    @property
    def provider(self) -> str:
        """The provider that carries the action out."""
        return INGEST_PROVIDER if self.source == INGEST_PROVIDER else self.firing.job.provider

    @property
    def effect_key(self) -> str:
        """The idempotency key: one effect per firing and action, whatever is redelivered."""
        return f"{self.firing.firing_id}:{self.action}"
