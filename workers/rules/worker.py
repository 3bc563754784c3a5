"""The rule worker: each event of `ftwatch:events`, in per-job order, through every rule.

Several workers share one consumer group, so two events of a job may reach two workers
at once. Order is kept by the per-job sequence each entry carries (`s`): an event is
evaluated only right after its predecessor; a later one waits (RETRY) until then. The
decision is committed with a version check, so one decision per event, whatever races.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog
from pydantic import ValidationError

from service.metrics import Metrics
from service.models.event import NormalizedEvent
from service.store.rule_state import Commit, RuleStateStore, StoredRules
from workers.rules.config import RulesFile
from workers.rules.engine import evaluate
from workers.rules.firings import facts_of_event
from workers.rules.plan import Decision, Trigger, decide_rules, stored_state
from workers.rules.resolve import resolve_notices, resolve_reason
from workers.stream.consumer import Disposition, Fields

log = structlog.get_logger(__name__)

# An event whose predecessor never arrives (trimmed from the stream, or lost when Redis
# lost data) is evaluated anyway once it has been delivered this many times.
GAP_PATIENCE_DELIVERIES = 2


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

    async def handle(self, entry_id: str, fields: Fields, deliveries: int) -> Disposition:
        """Consumer handler: DONE once the decision is committed (the commit acknowledges)."""
        job_id, seq = fields.get("j", ""), _int(fields.get("s"))
        stored = await self._store.load(job_id) if job_id else None
        if stored is None or seq is None:
            return Disposition.DONE  # not an entry this version wrote: nothing to order
        last = stored.last_seq
        if last is not None and seq <= last:
            return Disposition.DONE  # already decided (a redelivery)
        if last is not None and seq > last + 1 and deliveries < GAP_PATIENCE_DELIVERIES:
            return Disposition.RETRY  # an earlier event of this job is still in flight
        if last is not None and seq > last + 1:
            log.warning(
                "event_gap",
                job_id=job_id,
                missing=seq - last - 1,
                hint="earlier events of this job were lost; evaluating the rest",
            )
        commit, rules_fired = self._decide(stored, fields, seq)
        committed = await self._store.commit(job_id, stored.version, commit, entry_id)
        if not committed:
            return Disposition.RETRY  # another worker decided first: re-read and retry
        for rule in rules_fired:
            self._metrics.rule_firings.labels(rule).inc()
        return Disposition.DONE

    def _decide(self, stored: StoredRules, fields: Fields, seq: int) -> tuple[Commit, list[str]]:
        try:
            event = NormalizedEvent.model_validate_json(fields.get("e", ""))
        except ValidationError as exc:
            log.error(
                "event_unreadable",
                job_id=fields.get("j"),
                error=str(exc)[:500],
                hint="parked in ftwatch:events:dead; the job's other events go on",
            )
            return Commit(seq=seq, dead=[(fields.get("e", ""), str(exc)[:2000])]), []
        decision = self.decide(stored, event)
        return encode(decision, seq), [f.rule for f in decision.firings]

    def decide(self, stored: StoredRules, event: NormalizedEvent) -> Decision:
        """Every rule on one event (pure apart from the clock)."""
        now = self._clock()
        trigger = Trigger(job=facts_of_event(event), now=now, source=event.source, event=event)
        decision = decide_rules(
            self._rules.rules, stored, lambda rule, prev: evaluate(rule, prev, event, now), trigger
        )
        reason = resolve_reason(event)
        if reason is not None:
            for rule in self._rules.rules:
                previous = stored_state(stored, rule.name)
                decision.deliveries += resolve_notices(rule, previous, event, reason, now)
        return decision


def encode(decision: Decision, seq: int | None) -> Commit:
    """The decision as the JSON payloads the store commits."""
    return Commit(
        seq=seq,
        states={name: state.model_dump_json() for name, state in decision.states.items()},
        firings=[f.model_dump_json() for f in decision.firings],
        tasks=[t.model_dump_json() for t in decision.tasks],
        delayed=[(int(due * 1000), t.model_dump_json()) for due, t in decision.delayed],
        deliveries=[(name, f.model_dump_json()) for name, f in decision.deliveries],
        resumed_by=list(decision.resumed_by),
    )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
