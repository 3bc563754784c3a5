"""The rule worker: each event of `ftwatch:events`, in per-job order, through every rule.

Several workers share one consumer group, so two events of a job may reach two workers
at once. Order is kept by the per-job sequence each entry carries (`s`): an event is
decided only right after its predecessor; a later one waits (RETRY) until then. Each
read is handled whole: every job's state loaded in one round trip (but those still at
the version this worker committed last: it holds those), its events folded in order in
memory, and one commit per job written in one more round trip. A commit is guarded by
the state's version, so one decision per event, whatever races.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import structlog
from pydantic import ValidationError

from service.metrics import Metrics
from service.models.event import STATUS_EVENT, EventFacts, NormalizedEvent
from service.store.rule_state import RuleStateStore, StoredRules
from workers.rules.config import RulesFile
from workers.rules.engine import evaluate
from workers.rules.firings import facts_of_event
from workers.rules.fold import JobFold, fold_job, job_entries
from workers.rules.plan import Decision, Trigger, decide_rules
from workers.rules.resolve import cleared, resolve_notices, resolve_reason
from workers.rules.view import HeldViews, RulesView, view_of
from workers.stream.consumer import Disposition, Entry, Failed, Fields, Outcome

log = structlog.get_logger(__name__)


class RuleWorker:
    """Evaluates rules for stream entries and commits what they decide."""

    def __init__(
        self,
        rules: RulesFile,
        store: RuleStateStore,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._rules = rules
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._held = HeldViews()
        for rule in rules.rules:  # from 0, so the first firing shows in increase() too
            metrics.rule_firings.labels(rule.name)

    async def handle_batch(self, entries: Sequence[Entry]) -> list[Outcome]:
        """Consumer handler: an entry is ACKED once its decision is committed with its ack."""
        by_job, foreign = job_entries(entries)
        # Not an entry this version wrote: nothing to order or decide.
        outcomes: dict[str, Outcome] = dict.fromkeys((e.id for e in foreign), Disposition.DONE)
        held = {job_id: self._held.get(job_id) for job_id in by_job}
        loaded = await self._store.load_many(
            list(by_job), [h[0] if h is not None else None for h in held.values()]
        )
        folds: list[JobFold] = []
        for (job_id, pairs), stored in zip(by_job.items(), loaded, strict=True):
            try:
                folds.append(self.fold(job_id, *self._start(stored, held[job_id]), pairs))
            except Exception as exc:  # a bug on one job's events must not hold up the rest
                log.exception("job_events_failed", job_id=job_id)
                self._held.drop(job_id)
                failed = Failed(f"{exc.__class__.__name__}: {exc}")
                outcomes.update(dict.fromkeys((e.id for _, e in pairs), failed))
        outcomes.update(await self._commit(folds))
        return [outcomes[entry.id] for entry in entries]

    async def _commit(self, folds: list[JobFold]) -> dict[str, Outcome]:
        """Write every job's commit; a job whose state moved meanwhile retries its entries."""
        outcomes: dict[str, Outcome] = {}
        writes = [fold for fold in folds if fold.commit.entries]
        done = await self._store.commit_many([(f.job_id, f.version, f.commit) for f in writes])
        for fold, version in zip(writes, done, strict=True):
            # Committed: the commit acknowledged its entries. A lost race: another worker
            # decided first; the retry re-reads the state.
            outcome = Disposition.ACKED if version is not None else Disposition.RETRY
            outcomes.update(dict.fromkeys(fold.commit.entries, outcome))
            self._hold(fold, version)
            for rule in fold.fired if version is not None else []:
                self._metrics.rule_firings.labels(rule).inc()
        for fold in folds:
            outcomes.update(fold.skipped)
            for missing in fold.gaps:
                log.warning(
                    "event_gap",
                    job_id=fold.job_id,
                    missing=missing,
                    hint="earlier events of this job were lost; evaluating the rest",
                )
        return outcomes

    def _start(
        self, stored: StoredRules | None, held: tuple[str, RulesView] | None
    ) -> tuple[str, RulesView]:
        """The version and view a job's fold starts from: the stored ones, or (None: the
        store still holds the version this worker committed last) the held ones."""
        if stored is not None:
            return stored.version, view_of(stored, self._rules.rules)
        if held is None:
            raise RuntimeError("the store answered 'unchanged' for a version never sent")
        return held

    def _hold(self, fold: JobFold, version: str | None) -> None:
        """Keep the committed view for the job's next batch (forget it after a lost race)."""
        if version is not None and fold.view is not None:
            self._held.put(fold.job_id, version, fold.view)
        else:
            self._held.drop(fold.job_id)

    def fold(
        self, job_id: str, version: str, view: RulesView, pairs: Sequence[tuple[int, Entry]]
    ) -> JobFold:
        """One job's entries of a batch (sequence, entry) decided in order on `view`."""
        return fold_job(job_id, version, view, pairs, self.decide_entry)

    def decide_entry(self, view: RulesView, fields: Fields) -> Decision:
        """One entry (its event JSON) decided on `view`; pure but the clock."""
        try:
            event = _event(fields.get("e", ""))
        except ValidationError as exc:
            log.error(
                "event_unreadable",
                job_id=fields.get("j"),
                error=str(exc)[:500],
                hint="parked in ftwatch:events:dead; the job's other events go on",
            )
            return Decision(dead=[(fields.get("e", ""), str(exc)[:2000])])
        return self.decide(view, event)

    def decide(self, view: RulesView, event: EventFacts) -> Decision:
        """Every rule on one event (pure apart from the clock)."""
        now = self._clock()
        trigger = Trigger(lambda: facts_of_event(event), now, event=event)
        decision = decide_rules(
            self._rules.rules, view, lambda rule, prev: evaluate(rule, prev, event, now), trigger
        )
        reason = resolve_reason(event)
        for rule in self._rules.rules:
            previous = view.state(rule.name)
            why = reason or cleared(previous, decision.states.get(rule.name))
            if why is not None:
                decision.deliveries += resolve_notices(rule, previous, event, why, now)
        return decision


def _event(raw: str) -> EventFacts:
    """The event of a stream entry, read without its `data` unless resolve notices need it."""
    event = EventFacts.model_validate_json(raw)
    return NormalizedEvent.model_validate_json(raw) if event.type == STATUS_EVENT else event
