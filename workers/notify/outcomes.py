"""A notice waits briefly for its firing's actions: their outcomes and the best checkpoint.

A rule that pauses a job notifies at the same moment: the pause, and the checkpoint
listing that follows it, finish a second or so later (workers/actions/executor.py). Sent
at once, the notice would say `pause queued` and `checkpoint: null`, although the audit
log names both soon after. We wait, bounded, rather than send a follow-up:
- one message per firing is what every format handles well: a second PagerDuty trigger
  on the dedup_key only appends to the open alert's log (its title and details stay those
  of the first), a second Slack message doubles the noise and the pace (one a second),
  and a standard receiver would need an event type the SPEC does not have;
- the wait is short next to what it reports (a plateau takes evaluations to show), and
  bounded: past OUTCOME_WAIT the notice goes as it is, reason and best step included.
The delivery is not held while it waits: it is put back in its queue a moment later
(workers/notify/delivery_run.py), so it takes no slot and counts no attempt. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from service.models.firing import ActionResult, Firing

# Actions whose outcome is known within seconds of the firing (a resume `after` is not).
UPSTREAM = frozenset({"pause", "cancel", "resume"})
OUTCOME_WAIT = 10.0  # seconds after admission; then the notice goes with what is known
RECHECK = 0.25  # seconds between two looks while waiting


def waits(firing: Firing) -> bool:
    """Whether this notice has outcomes worth waiting for (a fresh rule firing)."""
    if firing.type != "ftwatch.rule.fired" or firing.resolved:
        return False
    return any(_pending(result) for result in firing.actions)


def _pending(result: ActionResult) -> bool:
    return result.action in UPSTREAM and result.outcome == "queued"


def complete(firing: Firing, records: Mapping[str, str]) -> Firing:
    """`firing` with each action's recorded outcome and the checkpoint found, if any."""
    done: dict[str, Firing] = {}
    for action, raw in records.items():
        try:
            done[action] = Firing.model_validate_json(raw)
        except ValidationError:
            continue  # an unreadable record: that action reads as still queued
    actions = [_outcome(result, done.get(result.action)) for result in firing.actions]
    found = [r.checkpoint for r in done.values() if r.checkpoint]
    checkpoint = firing.checkpoint or (found[0] if found else None)
    return firing.model_copy(update={"actions": actions, "checkpoint": checkpoint})


def _outcome(planned: ActionResult, record: Firing | None) -> ActionResult:
    if record is None or not _pending(planned):
        return planned
    same = [r for r in record.actions if r.action == planned.action]
    return same[0] if same else planned


def still_waiting(firing: Firing) -> bool:
    """Whether some action of the completed `firing` has no outcome yet."""
    return any(_pending(result) for result in firing.actions)
