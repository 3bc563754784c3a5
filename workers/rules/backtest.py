"""Replay recorded events through the rules: what would have fired, when, and why (pure).

Actions are not simulated (a pause would have changed the history that follows), so
a rule is shown firing again only where the recorded history re-arms it. Time is the
events' `created_at`; a timer-driven rule (`stalled`) is ticked at the moments its kind
says it could decide anew after an event (for `stalled`: when the silence reached its
limit), before the next event; a job whose status is unknown counts as running.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import BaseModel

from service.models.event import NormalizedEvent
from service.models.job import JobSnapshot
from workers.rules.config import Rule, RulesFile
from workers.rules.detectors.base import Verdict, count, fmt
from workers.rules.detectors.registry import DETECTORS
from workers.rules.engine import RuleState, evaluate, firing_id, tick


class BacktestRow(BaseModel):
    """One firing the rules would have made."""

    provider: str
    job_id: str
    rule: str
    kind: str
    at: float  # unix seconds
    step: int | None
    reason: str
    actions: list[str]
    dry_run: bool
    best: float | None = None
    best_step: int | None = None
    firing_id: str


class _Job:
    def __init__(self) -> None:
        self.states: dict[str, RuleState] = {}
        self.last: NormalizedEvent | None = None


def backtest(rules: RulesFile, events: Iterable[NormalizedEvent]) -> list[BacktestRow]:
    """Every firing, in order, that `rules` would have made on `events` (oldest first)."""
    jobs: dict[str, _Job] = {}
    rows: list[BacktestRow] = []
    for event in events:
        job = jobs.setdefault(event.key, _Job())
        for rule in rules.rules:
            rows += _timer_check(rule, job, event.created_at)
            state, verdict = evaluate(rule, job.states.get(rule.name), event, event.created_at)
            job.states[rule.name] = state
            if verdict is not None:
                rows.append(_row(rule, state, verdict, event, event.created_at))
        job.last = event
    # In time order: a stall fires after the silence, when later events may come first.
    return sorted(rows, key=lambda row: row.at)


def _timer_check(rule: Rule, job: _Job, until: float) -> list[BacktestRow]:
    """Tick a timer-driven rule at the moments after the job's last event its kind names,
    before `until` (the next event)."""
    last, wakes = job.last, DETECTORS[rule.kind].wakes
    if last is None or wakes is None:
        return []
    snapshot = JobSnapshot(
        job_id=last.job_id,
        provider=last.provider,
        status=last.status or "running",
        model=last.model,
        method=last.method,
        metadata=dict(last.metadata),
        last_event_at=last.created_at,
    )
    rows = []
    for now in wakes(rule.when.params, float(last.created_at)):
        if now >= until:
            break
        state, verdict = tick(rule, job.states.get(rule.name), snapshot, now)
        job.states[rule.name] = state
        if verdict is not None:
            rows.append(_row(rule, state, verdict, last, now))
    return rows


def _row(
    rule: Rule, state: RuleState, verdict: Verdict, event: NormalizedEvent, at: float
) -> BacktestRow:
    return BacktestRow(
        provider=event.provider,
        job_id=event.job_id,
        rule=rule.name,
        kind=rule.kind,
        at=at,
        step=verdict.step,
        reason=verdict.reason,
        actions=rule.describe_actions(),
        dry_run=rule.dry_run,
        best=verdict.best,
        best_step=verdict.best_step,
        firing_id=firing_id(rule.name, event.key, state.episode),
    )


_HEADER = ("TIME (UTC)", "JOB", "RULE", "STEP", "ACTIONS", "REASON")


def format_rows(rows: list[BacktestRow], events: int, jobs: int) -> str:
    """A table of the firings and a summary line naming its units."""
    summary = f"{count(len(rows), 'firing')} over {count(events, 'event')}"
    summary += f" of {count(jobs, 'job')}"
    if not rows:
        return f"no rule would have fired ({count(events, 'event')} of {count(jobs, 'job')})"
    table = [_HEADER, *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(_HEADER) - 1)]
    lines = [
        "  ".join([*(cell.ljust(w) for cell, w in zip(line, widths, strict=False)), line[-1]])
        for line in table
    ]
    return "\n".join([*lines, "", *job_summary(rows), summary])


def job_summary(rows: list[BacktestRow]) -> list[str]:
    """One line a job that would have fired: how often, which rules, the first time."""
    by_job: dict[str, list[BacktestRow]] = {}
    for row in rows:
        by_job.setdefault(f"{row.provider}:{row.job_id}", []).append(row)
    lines = []
    for key, fired in sorted(by_job.items()):
        rules = ", ".join(dict.fromkeys(row.rule for row in fired))
        lines.append(f"{key}: {count(len(fired), 'firing')} ({rules}), first {_time(fired[0].at)}")
    return lines


def _cells(row: BacktestRow) -> tuple[str, ...]:
    when = _time(row.at)
    actions = ", ".join(row.actions) + (" (dry run)" if row.dry_run else "")
    step = "-" if row.step is None else str(row.step)
    reason = row.reason
    if row.best is not None and row.best_step is not None and "best" not in reason:
        reason += f" (best {fmt(row.best)} at step {row.best_step})"
    return (when, row.job_id, row.rule, step, actions, reason)


def _time(at: float) -> str:
    try:
        return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return f"{at:g}"
