"""An action's record on the audit log: its own facts, and its firing by id.

The firing (rule, reason, values, best step) is recorded once, when it fires (a manual
action's when it is asked for); each action it causes is recorded later as an
ActionRecord naming that `firing_id`. Before issue 18 an action's record was the whole
Firing again (`stage: "action"`): `legacy_action` reads one of those as an ActionRecord.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from service.models.firing import ActionResult, Firing, Outcome
from service.models.ident import job_key

# Who carried an action out, when no person or system asked for it: ftwatch, for a rule.
RULE_ACTOR = "ftwatch"
# Who reported a decision's outcome (an ingested job's trainer, through its ack).
TRAINER = "trainer"


class ActionRecord(BaseModel):
    """One action's outcome, recorded on `ftwatch:actions` after its firing."""

    model_config = ConfigDict(ser_json_inf_nan="constants")

    firing_id: str  # the firing entry that caused it (same stream, recorded before)
    rule: str  # the firing's rule (`api:<actor>` for a manual action): what filters match
    provider: str
    job_id: str
    action: str  # pause | resume | cancel
    outcome: Outcome
    detail: str = ""
    checkpoint: str | None = None  # the checkpoint a pause kept (or the trainer saved)
    actor: str  # `ftwatch` (a rule's), `api:<actor>`, `alertmanager:<alert>`, `trainer`
    at: float  # epoch seconds

    @property
    def job_key(self) -> str:
        """`<provider>:<id>`, the job's name in the store."""
        return job_key(self.provider, self.job_id)

    @property
    def result(self) -> ActionResult:
        """The outcome as a firing's action list holds it."""
        return ActionResult(
            action=self.action, outcome=self.outcome, detail=self.detail, at=self.at
        )


def actor_of(firing: Firing) -> str:
    """Who asked for the actions of `firing`: the person or system of a manual one."""
    if firing.kind == "manual":
        return firing.rule
    return TRAINER if firing.kind == "ack" else RULE_ACTOR


def action_record(firing: Firing, result: ActionResult, checkpoint: str | None) -> ActionRecord:
    """The record of `result`, one action of `firing`."""
    return ActionRecord(
        firing_id=firing.firing_id,
        rule=firing.rule,
        provider=firing.job.provider,
        job_id=firing.job.id,
        action=result.action,
        outcome=result.outcome,
        detail=result.detail,
        checkpoint=checkpoint,
        actor=actor_of(firing),
        at=result.at if result.at is not None else firing.fired_at,
    )


def legacy_action(firing: Firing) -> ActionRecord | None:
    """An action entry of the previous version (a whole Firing, `stage: "action"`) as the
    record written now; None for a firing entry, or one that names no action."""
    if firing.stage != "action" or not firing.actions:
        return None
    return action_record(firing, firing.actions[0], firing.checkpoint)
