"""The cadence model under chaos: its predictions counted, its polls seen timed by them.

About once a second, from every live replica: `ftwatch_poll_predictions_total` of each
polling process (a SIGKILLed process takes its counters along, so the last scrape of
each process is kept, by pid: at most a second of a killed poller's predictions goes
uncounted), and, from one API, the views of the running jobs: a job the model schedules
shows its next poll at or after its predicted event (`next_poll_at >= next_event_at`);
a job stepping slower than the interval but polled every interval shows it before.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.chaos.cluster import Replica

SAMPLE_EVERY = 1.0
POLLING_ROLES = frozenset({"all", "poller"})
API_ROLES = frozenset({"all", "api"})
METRIC = "ftwatch_poll_predictions_total{"


def predictions(metrics_text: str) -> Counter[str]:
    """`ftwatch_poll_predictions_total` by outcome, from a /metrics page."""
    out: Counter[str] = Counter()
    for line in metrics_text.splitlines():
        if line.startswith(METRIC):
            outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
            out[outcome] += int(float(line.rsplit(" ", 1)[1]))
    return out


def timing(views: Iterable[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """(job id, `timed` or `untimed`) of each running job with a prediction in `views`."""
    for view in views:
        due, expect = view.get("next_poll_at"), view.get("next_event_at")
        if view.get("status") == "running" and due is not None and expect is not None:
            yield str(view["job_id"]), "timed" if due >= expect else "untimed"


@dataclass
class PredictionTally:
    """Samples the replicas until stopped; `outcomes()` and `polls` are what the judge reads."""

    replicas: list[Replica]
    last: dict[tuple[str, int], Counter[str]] = field(default_factory=dict)
    # Per job id: its views' samples, timed or untimed by the prediction.
    polls: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def outcomes(self) -> Counter[str]:
        """Every process's predictions at its last scrape, summed."""
        return sum(self.last.values(), Counter())

    async def run(self, stop: asyncio.Event) -> None:
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while not stop.is_set():
                await asyncio.gather(*(self._scrape(http, r) for r in self.replicas))
                await self._sample_views(http)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SAMPLE_EVERY)

    async def _scrape(self, http: aiohttp.ClientSession, replica: Replica) -> None:
        proc = replica.proc
        if replica.role not in POLLING_ROLES or proc is None or proc.proc is None:
            return
        pid = proc.proc.pid
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.get(f"{proc.url}/metrics") as resp:
                if resp.status == 200:
                    self.last[(replica.name, pid)] = predictions(await resp.text())

    async def _sample_views(self, http: aiohttp.ClientSession) -> None:
        # One API answer a round is enough; a killed one is skipped for the next.
        for replica in self.replicas:
            proc = replica.proc
            if replica.role not in API_ROLES or proc is None:
                continue
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                url = f"{proc.url}/v1/jobs?status=running&limit=100"
                async with http.get(url) as resp:
                    if resp.status == 200:
                        for job_id, sample in timing((await resp.json())["data"]):
                            self.polls[job_id][sample] += 1
                        return
