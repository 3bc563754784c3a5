"""A decision: a pause or cancel of an ingested job, for its trainer to act on (SPEC §10).

ftwatch cannot stop a self-hosted trainer; it records the decision, the trainer reads it
(in the ingest reply or by long-poll), acts, and acks it. The id is derived from the
action's idempotency key, so a redelivered action yields the same decision, not another.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DecisionAction = Literal["pause", "cancel"]
# What the trainer did: `done` (a pause saved its checkpoint and stopped, a cancel
# stopped) or `failed` (it could not; `message` says why).
AckOutcome = Literal["done", "failed"]


def decision_id(effect_key: str) -> str:
    """The decision's id: stable per (firing, action), whatever is redelivered."""
    return "dec_" + hashlib.sha256(effect_key.encode()).hexdigest()[:24]


class DecisionAck(BaseModel):
    """What the trainer reported having done with a decision."""

    outcome: AckOutcome
    checkpoint: str | None = None
    message: str | None = None
    at: float


class Decision(BaseModel):
    """One decision of one ingested job; `ack` is None while it is pending."""

    model_config = ConfigDict(ser_json_inf_nan="constants")

    id: str
    provider: str
    job_id: str
    action: DecisionAction
    rule: str  # the rule that fired it, or `api` for a manual one
    reason: str
    best_value: float | None = None
    best_step: int | None = None
    firing_id: str
    created_at: float
    ack: DecisionAck | None = Field(default=None)

    @property
    def pending(self) -> bool:
        return self.ack is None
