"""One job's entries of a batch, folded in sequence order into one commit (pure).

Events of a job must be decided in order, each on the state its predecessor left. A
batch may hold several events of a job: they are decided one after the other in
memory, on parsed states, and encoded once into one commit, guarded by the version the
batch started from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from service.models.ident import DEFAULT_PROVIDER, INGEST_PROVIDER, job_key
from service.store.rule_state import Commit
from workers.rules.plan import Decision
from workers.rules.state_codec import dump_state
from workers.rules.view import RulesView
from workers.stream.consumer import Disposition, Entry, Fields

# An event whose predecessor never arrives (trimmed from the stream, or lost when Redis
# lost data) is decided anyway once it has been delivered this many times.
GAP_PATIENCE_DELIVERIES = 2

# Decides one event (its fields) on the job's rules as the events before it left them.
Decide = Callable[[RulesView, Fields], Decision]


@dataclass
class JobFold:
    """One job's share of a batch: the commit to write, and the entries left out of it."""

    job_id: str
    version: str  # the state's version the commit is guarded by
    commit: Commit = field(default_factory=Commit)
    fired: list[str] = field(default_factory=list)  # rules fired, for the metric
    skipped: dict[str, Disposition] = field(default_factory=dict)  # entry id: outcome
    gaps: list[int] = field(default_factory=list)  # events found missing before a decided one
    view: RulesView | None = None  # the view once the commit is written (None: unchanged)


def fold_job(
    job_id: str,
    version: str,
    view: RulesView,
    entries: Sequence[tuple[int, Entry]],
    decide: Decide,
) -> JobFold:
    """Decide `entries` (sequence, entry) of one job in order on `view`; encode once, at the end."""
    fold = JobFold(job_id, version)
    ready = _in_order(fold, view.last_seq, entries)
    decided = Decision()
    for seq, entry in ready:
        decision = decide(view, entry.fields)
        decided.merge(decision)
        view = view.after(seq, decision.states, decision.resumed_by)
    if ready:
        fold.commit = encode(decided, view.last_seq)
        fold.commit.entries = [entry.id for _, entry in ready]
        fold.fired = [firing.rule for firing in decided.firings]
        fold.view = view
    return fold


def _in_order(
    fold: JobFold, last: int | None, entries: Sequence[tuple[int, Entry]]
) -> list[tuple[int, Entry]]:
    """The entries to decide now, in order; the others (and any gap) noted in `fold`."""
    ready: list[tuple[int, Entry]] = []
    waiting = False
    for seq, entry in sorted(entries, key=lambda pair: (pair[0], pair[1].id)):
        if last is not None and seq <= last:
            fold.skipped[entry.id] = Disposition.DONE  # already decided (a redelivery)
            continue
        gap = seq - last - 1 if last is not None else 0
        if waiting or (gap > 0 and entry.deliveries < GAP_PATIENCE_DELIVERIES):
            # An earlier event is still in flight (elsewhere, or later in the stream):
            # this one and every later one of the job wait for it.
            waiting = True
            fold.skipped[entry.id] = Disposition.RETRY
            continue
        if gap > 0:
            fold.gaps.append(gap)
        ready.append((seq, entry))
        last = seq
    return ready


def encode(decision: Decision, seq: int | None) -> Commit:
    """The decision as the JSON payloads the store commits (`seq`: its last event's)."""
    return Commit(
        seq=seq,
        states={name: dump_state(state) for name, state in decision.states.items()},
        firings=[f.model_dump_json() for f in decision.firings],
        tasks=[t.model_dump_json() for t in decision.tasks],
        delayed=[(int(due * 1000), t.model_dump_json()) for due, t in decision.delayed],
        deliveries=[(name, f.model_dump_json()) for name, f in decision.deliveries],
        resumed_by=list(decision.resumed_by),
        dead=list(decision.dead),
    )


def job_entries(entries: Sequence[Entry]) -> tuple[dict[str, list[tuple[int, Entry]]], list[Entry]]:
    """The entries grouped by job with their sequence; and those no ftwatch append wrote."""
    by_job: dict[str, list[tuple[int, Entry]]] = {}
    foreign: list[Entry] = []
    for entry in entries:
        key, seq = entry_job(entry.fields), _int(entry.fields.get("s"))
        if not key or seq is None:
            foreign.append(entry)
        else:
            by_job.setdefault(key, []).append((seq, entry))
    return by_job, foreign


def entry_job(fields: Fields) -> str:
    """The job key of a stream entry; entries of the version before providers name the
    bare id, which belongs to `openai`, or to `ingest` when the event says so."""
    j = fields.get("j", "")
    if not j or ":" in j:
        return j
    provider = INGEST_PROVIDER if '"source":"ingest"' in fields.get("e", "") else DEFAULT_PROVIDER
    return job_key(provider, j)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
