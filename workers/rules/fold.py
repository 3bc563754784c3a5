"""One job's entries of a batch, folded in sequence order into one commit (pure).

Events of a job must be decided in order, each on the state its predecessor left. A
batch may hold several events of a job: they are decided one after the other in
memory and written as one commit, guarded by the version the batch started from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from service.store.rule_state import Commit, StoredRules
from workers.stream.consumer import Disposition, Entry, Fields

# An event whose predecessor never arrives (trimmed from the stream, or lost when Redis
# lost data) is decided anyway once it has been delivered this many times.
GAP_PATIENCE_DELIVERIES = 2

# Decides one event (its fields, its sequence) on a state: the commit, the rules fired.
Decide = Callable[[StoredRules, Fields, int], tuple[Commit, list[str]]]


@dataclass
class JobFold:
    """One job's share of a batch: the commit to write, and the entries left out of it."""

    job_id: str
    version: str  # the state's version the commit is guarded by
    commit: Commit = field(default_factory=Commit)
    fired: list[str] = field(default_factory=list)  # rules fired, for the metric
    skipped: dict[str, Disposition] = field(default_factory=dict)  # entry id: outcome
    gaps: list[int] = field(default_factory=list)  # events found missing before a decided one


def fold_job(
    job_id: str, stored: StoredRules, entries: Sequence[tuple[int, Entry]], decide: Decide
) -> JobFold:
    """Decide `entries` (sequence, entry) of one job in order, on top of `stored`."""
    fold = JobFold(job_id, stored.version)
    waiting = False
    for seq, entry in sorted(entries, key=lambda pair: (pair[0], pair[1].id)):
        last = stored.last_seq
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
        commit, fired = decide(stored, entry.fields, seq)
        commit.entries = [entry.id]
        fold.commit = fold.commit.then(commit)
        fold.fired += fired
        stored = stored.after(commit)
    return fold


def job_entries(entries: Sequence[Entry]) -> tuple[dict[str, list[tuple[int, Entry]]], list[Entry]]:
    """The entries grouped by job with their sequence; and those no ftwatch append wrote."""
    by_job: dict[str, list[tuple[int, Entry]]] = {}
    foreign: list[Entry] = []
    for entry in entries:
        job_id, seq = entry.fields.get("j", ""), _int(entry.fields.get("s"))
        if not job_id or seq is None:
            foreign.append(entry)
        else:
            by_job.setdefault(job_id, []).append((seq, entry))
    return by_job, foreign


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
