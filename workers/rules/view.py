"""A job's rules as decided so far: parsed states, last sequence, resumes (pure).

Built from the stored JSON once per batch; the fold moves it on event by event in memory,
so the states decided on the way are neither encoded nor parsed back.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from service.store.rule_state import StoredRules
from workers.rules.config import Rule
from workers.rules.engine import RuleState
from workers.rules.state_codec import load_state


@dataclass(frozen=True)
class RulesView:
    """Each rule's state, the last event decided, and how often each rule scheduled a resume."""

    last_seq: int | None = None
    states: Mapping[str, RuleState] = field(default_factory=dict)
    resumes: Mapping[str, int] = field(default_factory=dict)

    def state(self, rule_name: str) -> RuleState | None:
        """The rule's state, or None (new rule, or written by an older version)."""
        return self.states.get(rule_name)

    def after(
        self, seq: int, states: Mapping[str, RuleState], resumed_by: Sequence[str]
    ) -> RulesView:
        """The view once the event `seq` is decided with these states and resumes."""
        # Called once per event: most events change a state or two and schedule no resume,
        # so copy only what changed.
        resumes = self.resumes
        if resumed_by:
            resumes = dict(resumes)
            for rule in resumed_by:
                resumes[rule] = resumes.get(rule, 0) + 1
        merged = {**self.states, **states} if states else self.states
        return RulesView(last_seq=seq, states=merged, resumes=resumes)


def view_of(stored: StoredRules, rules: Iterable[Rule]) -> RulesView:
    """What `stored` holds for `rules`, each state parsed once (through the codec's memo)."""
    states: dict[str, RuleState] = {}
    for rule in rules:
        raw = stored.states.get(rule.name)
        state = None if raw is None else load_state(raw)
        if state is not None:
            states[rule.name] = state
    return RulesView(last_seq=stored.last_seq, states=states, resumes=stored.resumes)


# Every job of a few busy batches; a view is the states the codec remembers anyway.
HELD_JOBS = 10_000


class HeldViews:
    """The views a worker committed last, by job, with the version the commit wrote.

    Only a hint: the store hands back the stored state whenever its version differs
    (another worker or the ticker committed since), so a stale view is never used.
    """

    def __init__(self, limit: int = HELD_JOBS) -> None:
        self._limit = limit
        self._views: OrderedDict[str, tuple[str, RulesView]] = OrderedDict()

    def version(self, job_id: str) -> str | None:
        held = self._views.get(job_id)
        return held[0] if held is not None else None

    def get(self, job_id: str) -> tuple[str, RulesView] | None:
        held = self._views.get(job_id)
        if held is not None:
            self._views.move_to_end(job_id)
        return held

    def put(self, job_id: str, version: str, view: RulesView) -> None:
        self._views[job_id] = (version, view)
        self._views.move_to_end(job_id)
        if len(self._views) > self._limit:
            self._views.popitem(last=False)

    def drop(self, job_id: str) -> None:
        self._views.pop(job_id, None)
