"""A notice's wait for its firing's actions (pure): what it waits for, what it learns."""

from __future__ import annotations

from service.models.firing import ActionResult
from tests.notify.samples import CHECKPOINT, plateau_firing
from workers.notify.outcomes import complete, still_waiting, waits

QUEUED = [
    ActionResult(action="pause", outcome="queued"),
    ActionResult(action="notify:ops", outcome="queued"),
]


def test_a_fresh_firing_with_a_queued_pause_waits_others_do_not() -> None:
    assert waits(plateau_firing(actions=QUEUED, checkpoint=None))
    assert not waits(plateau_firing())  # its pause is done already
    assert not waits(plateau_firing(actions=QUEUED, resolved=True))
    assert not waits(plateau_firing(actions=QUEUED, type="ftwatch.action.failed"))
    notify_only = [ActionResult(action="notify:ops", outcome="queued")]
    assert not waits(plateau_firing(actions=notify_only))
    dry = [ActionResult(action="pause", outcome="dry_run")]
    assert not waits(plateau_firing(actions=dry, dry_run=True))
    later = [ActionResult(action="resume", outcome="scheduled", at=5.0)]
    assert not waits(plateau_firing(actions=later))


def test_the_recorded_pause_brings_its_outcome_and_the_checkpoint() -> None:
    firing = plateau_firing(actions=QUEUED, checkpoint=None)
    paused = ActionResult(action="pause", outcome="ok", at=3.0)
    record = firing.model_copy(update={"actions": [paused], "checkpoint": CHECKPOINT})
    done = complete(firing, {"pause": record.model_dump_json()})
    assert done.checkpoint == CHECKPOINT
    assert done.actions == [paused, QUEUED[1]]  # the notify itself stays as planned
    assert not still_waiting(done)


def test_nothing_recorded_or_unreadable_leaves_it_waiting_as_it_was() -> None:
    firing = plateau_firing(actions=QUEUED, checkpoint=None)
    assert complete(firing, {}) == firing
    assert still_waiting(complete(firing, {"pause": "{not json"}))


def test_a_failed_pause_is_an_outcome_too_and_has_no_checkpoint() -> None:
    firing = plateau_firing(actions=QUEUED, checkpoint=None)
    failed = ActionResult(action="pause", outcome="failed", detail="HTTP 500")
    record = firing.model_copy(update={"actions": [failed]})
    done = complete(firing, {"pause": record.model_dump_json()})
    assert done.actions[0] == failed and done.checkpoint is None
    assert not still_waiting(done)
