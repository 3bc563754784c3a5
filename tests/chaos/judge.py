"""Judge a chaos run from the simulator's, the receiver's and the stream's own records.

Each check yields problems (strings naming the job); the run passes with none. The
counts go into the summary printed at the end of the session.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from service.models.cadence import OUTCOMES
from simulator.platform import ActionRecord, Platform
from tests.chaos.fleet import SPARSE_STEP_PERIOD, ChaosJob
from tests.chaos.predictions import PredictionTally
from tests.chaos.receiver import ChaosReceiver

_ACTIONS = ("pause", "resume", "cancel")


@dataclass
class Verdict:
    """Problems found, and the counts the summary reports."""

    problems: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def expect(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)


def judge_actions(jobs: list[ChaosJob], platform: Platform, verdict: Verdict) -> None:
    """Paused, resumed, cancelled exactly as often as the rules say; healthy jobs untouched."""
    calls: dict[str, list[ActionRecord]] = defaultdict(list)
    for record in platform.actions:
        calls[record.job_id].append(record)
    statuses = {row["id"]: row["status"] for row in platform.summary()["data"]}
    for job in jobs:
        ok = Counter(r.action for r in calls[job.id] if r.outcome == "ok")
        want = {"pause": job.expected.pauses, "resume": job.expected.resumes}
        want["cancel"] = job.expected.cancels
        for action in _ACTIONS:
            verdict.counts[f"{action}_ok"] += ok[action]
            verdict.counts[f"{action}_expected"] += want[action]
            verdict.expect(
                ok[action] == want[action],
                f"{job.kind} {job.id}: {action} applied {ok[action]}x, expected {want[action]}x",
            )
        for record in calls[job.id]:
            verdict.counts[f"calls_{record.outcome}"] += 1
        if not (job.expected.pauses or job.expected.resumes or job.expected.cancels):
            verdict.expect(not calls[job.id], f"{job.kind} {job.id}: touched: {calls[job.id]}")
            verdict.counts["untouched_ok"] += not calls[job.id]
        status = statuses.get(job.id)
        verdict.expect(
            status == job.expected.final_status,
            f"{job.kind} {job.id}: ended {status}, expected {job.expected.final_status}",
        )


def judge_notices(jobs: list[ChaosJob], receiver: ChaosReceiver, verdict: Verdict) -> None:
    """Every expected notice accepted under exactly one webhook-id; nothing else."""
    by_job: dict[str, dict[tuple[str, str], set[str | None]]] = defaultdict(dict)
    for arrival in receiver.accepted():
        by_job[arrival.job_id].setdefault((arrival.type, arrival.rule), set()).add(
            arrival.webhook_id
        )
    verdict.counts["unverified"] = sum(not a.verified for a in receiver.arrivals)
    verdict.expect(verdict.counts["unverified"] == 0, "requests with a bad signature arrived")
    known = {job.id for job in jobs}
    for job in jobs:
        got = by_job.get(job.id, {})
        verdict.counts["notices_expected"] += len(job.expected.notices)
        for notice in job.expected.notices:
            ids = got.get(notice, set())
            verdict.counts["notices_delivered"] += bool(ids)
            verdict.expect(bool(ids), f"{job.kind} {job.id}: notice {notice} never accepted")
        for notice, ids in got.items():
            verdict.expect(
                notice in job.expected.notices,
                f"{job.kind} {job.id}: unexpected notice {notice}",
            )
            verdict.expect(len(ids) == 1, f"{job.kind} {job.id}: {notice} under ids {ids}")
    strays = set(by_job) - known
    verdict.expect(not strays, f"notices for unknown jobs {strays}")
    duplicates, after_timeout = receiver.duplicate_ids()
    verdict.counts["duplicate_ids"] = duplicates
    verdict.counts["duplicates_after_timeout"] = after_timeout
    verdict.counts["acted_twice"] = receiver.acted_twice()
    verdict.counts["receiver_failed_answers"] = receiver.failed_answers


@dataclass
class StreamView:
    """Upstream event ids per job in stream order, and when each was appended (epoch s)."""

    ids: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    appended_at: dict[str, float] = field(default_factory=dict)


def read_stream(entries: list[tuple[str, dict[str, str]]]) -> StreamView:
    """`ftwatch:events` as judged: ftwatch's own status events left out."""
    view = StreamView()
    for entry_id, fields in entries:
        event: dict[str, Any] = json.loads(fields["e"])
        if event.get("type") != "status":
            view.ids[event["job_id"]].append(event["event_id"])
            view.appended_at.setdefault(event["event_id"], int(entry_id.split("-")[0]) / 1000)
    return view


def judge_events(
    jobs: list[ChaosJob], platform: Platform, stream: StreamView, verdict: Verdict
) -> list[float]:
    """Every upstream event in `ftwatch:events` once, in the upstream's order.

    Returns each event's lag: seconds from visible upstream to appended to the stream.
    """
    lags = []
    for job in jobs:
        rows = platform.visibility(job.id)
        upstream = [row["id"] for row in rows]
        got = stream.ids.get(job.id, [])
        verdict.counts["events_upstream"] += len(upstream)
        verdict.counts["events_stream"] += len(got)
        doubled = sum(n - 1 for n in Counter(got).values())
        missing = len(set(upstream) - set(got))
        verdict.counts["events_doubled"] += doubled
        verdict.counts["events_missing"] += missing
        verdict.expect(
            got == upstream,
            f"{job.kind} {job.id}: stream differs ({missing} missing, {doubled} doubled)",
        )
        lags += [
            stream.appended_at[row["id"]] - row["visible_at"]
            for row in rows
            if row["id"] in stream.appended_at
        ]
    return lags


def judge_predictions(jobs: list[ChaosJob], tally: PredictionTally, verdict: Verdict) -> None:
    """The cadence model was on: predictions hit, and the sparse jobs' polls timed by them."""
    outcomes = tally.outcomes()
    for outcome in OUTCOMES:
        verdict.counts[f"predictions_{outcome}"] = outcomes[outcome]
    samples: Counter[str] = Counter()
    for job in jobs:
        if job.spec.step_period == SPARSE_STEP_PERIOD:
            samples += tally.polls.get(job.id, Counter())
    verdict.counts["polls_timed"], verdict.counts["polls_untimed"] = (
        samples["timed"],
        samples["untimed"],
    )
    hint = "is FTWATCH_POLL_INTERVAL at least the model's 1 s (whole-second stamps)?"
    verdict.expect(outcomes["hit"] > 0, f"no prediction hit: {dict(outcomes)}; {hint}")
    verdict.expect(
        samples["timed"] > samples["untimed"],
        f"sparse jobs' next polls: {samples['timed']} timed by the prediction, "
        f"{samples['untimed']} not; {hint}",
    )
