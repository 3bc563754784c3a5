"""A chaos run's summary: jobs, disruptions and the judged counts, kept for the session end."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from tests.chaos.judge import Verdict

# Summaries of this session's runs, printed by tests/chaos/conftest.py at the end.
REPORTS: list[str] = []


@dataclass
class RunFacts:
    """What happened besides the verdict: the setup and the disruptions carried out."""

    seed: int
    topology: str
    processes: list[str]
    jobs: str
    done: Counter[str] = field(default_factory=Counter)
    injected: dict[str, int] = field(default_factory=dict)
    upstream_requests: int = 0
    runtime: float = 0.0
    settle: float = 0.0
    unsettled: str | None = None
    dead_letters: int = 0
    lag: tuple[float, float, float] = (0.0, 0.0, 0.0)  # event visible -> appended: p50, p99, max
    logs: str = ""


def render(facts: RunFacts, verdict: Verdict) -> str:
    """A few lines a human reads in the CI log."""
    c, d = verdict.counts, facts.done
    kills = sum(n for k, n in d.items() if k.startswith("kill:"))
    by_role = ", ".join(f"{k[5:]} {n}" for k, n in sorted(d.items()) if k.startswith("kill:"))
    lines = [
        f"chaos seed={facts.seed} topology={facts.topology} ({', '.join(facts.processes)}): "
        f"{'PASS' if not verdict.problems else 'FAIL'} in {facts.runtime:.1f}s "
        f"(settled {facts.settle:.1f}s after the chaos)",
        f"  jobs: {facts.jobs}",
        f"  faults: {d['upstream']} upstream windows, injected {facts.injected} "
        f"of {facts.upstream_requests} requests; {d['receiver']} receiver outages "
        f"({c['receiver_failed_answers']} failed answers)",
        f"  kills: {kills} ({by_role}), restarts: {d['restart']}, redis restarts: {d['redis']}",
        f"  actions: paused {c['pause_ok']}/{c['pause_expected']}, "
        f"resumed {c['resume_ok']}/{c['resume_expected']}, "
        f"cancelled {c['cancel_ok']}/{c['cancel_expected']}; healthy untouched "
        f"{c['untouched_ok']}; calls refused {c['calls_error']}, faulted {c['calls_fault']}",
        f"  notifications: delivered {c['notices_delivered']}/{c['notices_expected']}, "
        f"duplicates by webhook-id {c['duplicate_ids']} ({c['duplicates_after_timeout']} after "
        f"the sender timed out), acted twice {c['acted_twice']}, "
        f"bad signatures {c['unverified']}, dead letters {facts.dead_letters}",
        f"  events: upstream {c['events_upstream']}, in stream {c['events_stream']}, "
        f"missing {c['events_missing']}, doubled {c['events_doubled']}; ingested within "
        f"{facts.lag[0]:.1f}s (p50), {facts.lag[1]:.1f}s (p99), {facts.lag[2]:.1f}s (max)",
        f"  predictions: hit {c['predictions_hit']}, early {c['predictions_early']}, "
        f"late {c['predictions_late']}; sparse jobs' next poll timed by the prediction in "
        f"{c['polls_timed']} of {c['polls_timed'] + c['polls_untimed']} samples",
    ]
    if facts.unsettled:
        lines.append(f"  did not settle: {facts.unsettled}")
    lines += [f"  problem: {p}" for p in verdict.problems[:20]]
    if len(verdict.problems) > 20:
        lines.append(f"  ... and {len(verdict.problems) - 20} more problems")
    if verdict.problems:
        lines.append(
            f"  replay: FTWATCH_CHAOS_SEED={facts.seed} "
            f"FTWATCH_CHAOS_TOPOLOGY={facts.topology}; logs in {facts.logs}"
        )
    return "\n".join(lines)
