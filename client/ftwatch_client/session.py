"""What every framework callback shares: one run's reporter (rank 0 only) and its decision."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import Any

from ftwatch_client.decision import OUTCOME_DONE, OUTCOME_FAILED, Decision
from ftwatch_client.reporter import Reporter

log = logging.getLogger("ftwatch_client")

# Decisions cross ranks as small integers: every collective library can broadcast one.
CODES = {None: 0, "pause": 1, "cancel": 2}
ACTIONS = {code: action for action, code in CODES.items()}


def code_of(decision: Decision | None) -> int:
    return CODES[decision.action if decision else None]


def decision_of(code: int, local: Decision | None) -> Decision | None:
    """Rank 0's broadcast code as a decision: rank 0's own, or a stand-in on other ranks."""
    action = ACTIONS.get(int(code))
    if action is None:
        return None
    if local is not None and local.action == action:
        return local
    return Decision(id="", action=action)  # other ranks act, never ack


def checkpoint_path(directory: str | os.PathLike[str], job_id: str, step: int, ext: str) -> str:
    """An absolute path `<dir>/ftwatch-<job>-step<N><ext>`: the ack names it for humans."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", job_id)
    return os.path.abspath(os.path.join(directory, f"ftwatch-{safe}-step{step}{ext}"))


class Session:
    """One training run as ftwatch sees it. Only rank 0 has a reporter; the others get
    the decision through their framework's broadcast (see each callback)."""

    def __init__(self, chief: bool, options: Mapping[str, Any]) -> None:
        self.reporter = Reporter(**options) if chief else None
        self.acted: Decision | None = None  # the decision this run carried out

    @property
    def job_id(self) -> str:
        return self.reporter.job_id if self.reporter else ""

    def start(self) -> None:
        if self.reporter:
            self.reporter.status("running")

    def log(self, step: int, metrics: Mapping[str, float], total: int | None = None) -> None:
        if self.reporter and metrics:
            self.reporter.log(step, metrics, total_steps=total or None)

    def beat(self, step: int) -> None:
        if self.reporter:
            self.reporter.beat(step)

    def pending(self) -> Decision | None:
        """The decision rank 0 holds and this run has not carried out yet."""
        return None if self.acted or not self.reporter else self.reporter.decision

    def done(self, decision: Decision, checkpoint: str | None = None) -> None:
        """The decision was carried out (training stops); rank 0 acks it."""
        self.acted = decision
        what = f"saved {checkpoint} and stopped" if checkpoint else "stopped"
        why = f"rule {decision.rule}" if decision.id else "as rank 0 decided"  # a stand-in
        log.warning("ftwatch: %s: %s (%s)", decision.action, what, why)
        if self.reporter and decision.id:
            self.reporter.ack(decision, OUTCOME_DONE, checkpoint=checkpoint, message=what)

    def failed(self, decision: Decision, why: str) -> None:
        """The decision could not be carried out: training goes on, ftwatch is told why."""
        log.error("ftwatch: could not %s: %s; training goes on", decision.action, why)
        if self.reporter and decision.id:
            self.reporter.ack(decision, OUTCOME_FAILED, message=why)

    def end(self, timeout: float, status: str | None = "succeeded") -> None:
        """Training is over: its status (unless a decision stopped it), then a bounded flush."""
        if not self.reporter:
            return
        if status and not self.acted:
            self.reporter.status(status)
        self.reporter.close(timeout)
