"""How often to poll a job, by status (pure)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from service.models.cadence import Cadence, request_rate
from service.models.lifecycle import Status, is_idle, is_running, is_terminal


def poll_delay(status: Status, interval: float, idle_factor: float) -> float | None:
    """Seconds until the next poll, or None when the job is terminal (drop it after draining).

    Running jobs, and `pausing`, `resuming` and `unknown` ones, are polled every
    `interval`: a status nobody has documented is safer watched closely.
    """
    if is_terminal(status):
        return None
    if is_idle(status):
        return interval * idle_factor
    return interval


# Plan for this share of the request budget: the rest absorbs retries, actions and bursts.
BUDGET_HEADROOM = 0.9


def budget_stretch(
    statuses: Mapping[Status, int],
    *,
    interval: float,
    idle_factor: float,
    rate: float | None,
    sweep_rate: float = 0.0,
    running: Sequence[Cadence] | None = None,
) -> float:
    """How much longer than usual every poll delay must be to fit the request budget.

    A regular poll costs one request, so the fleet asks for (running jobs / interval) +
    (idle jobs / idle interval) + the sweep's requests per second. Above the budget every
    delay grows by the same factor: jobs are still polled in proportion (running ones
    `idle_factor` times as often as queued ones), just less often, instead of piling up
    overdue behind the budget. `running`, the running jobs' cadences when known, prices
    each at what its own pace costs instead (a job stepping every minute needs far fewer
    polls than one per interval).
    """
    if rate is None or rate <= 0:
        return 1.0
    demand = sweep_rate
    for status, count in statuses.items():
        delay = poll_delay(status, interval, idle_factor)
        if delay is not None and not (running is not None and is_running(status)):
            demand += count / delay
    if running is not None:
        demand += sum(request_rate(state, interval) for state in running)
    return max(1.0, demand / (rate * BUDGET_HEADROOM))


@dataclass(frozen=True)
class Watched:
    """One watched job as the census sees it."""

    provider: str
    status: Status
    cadence: Cadence


def provider_stretches(
    jobs: Sequence[Watched],
    rates: Mapping[str, float | None],
    *,
    interval: float,
    idle_factor: float,
    discovery_interval: float,
    priced: bool = True,
) -> dict[str, float]:
    """Each provider's stretch: its own jobs against its own request budget (SPEC §11).

    `priced` prices running jobs at their cadence; off (FTWATCH_MAX_POLL_FACTOR=1), at
    one poll per interval. A provider without a budget (rate None) is never stretched.
    """
    grouped: dict[str, list[Watched]] = defaultdict(list)
    for job in jobs:
        grouped[job.provider].append(job)
    out: dict[str, float] = {}
    for provider in {*rates, *grouped}:
        mine = grouped.get(provider, [])
        # One listing page per 100 jobs per discovery interval.
        sweep_rate = (len(mine) // 100 + 1) / discovery_interval
        running = [j.cadence for j in mine if is_running(j.status)]
        out[provider] = budget_stretch(
            Counter(j.status for j in mine),
            interval=interval,
            idle_factor=idle_factor,
            rate=rates.get(provider),
            sweep_rate=sweep_rate,
            running=running if priced else None,
        )
    return out
