"""The watcher users write today, with the official openai SDK, as the benchmarks' baseline.

Every interval, for every job it listed at start: retrieve the job, list its last 100
events, act on the new ones (here: pause a running job whose event carries the probe
metric, the condition the benchmark's rule also pauses on). Jobs seen terminal are
dropped (kinder to it than "every job" literally). It polls concurrently (16 in flight)
so that it keeps its interval at 1,000 jobs; a sequential loop could not.

Run: python -m bench.naive --base-url http://127.0.0.1:PORT/v1 --interval 5
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any, TextIO

from openai import AsyncOpenAI

TERMINAL = {"succeeded", "failed", "cancelled"}
CONCURRENCY = 16


class NaiveWatcher:
    """Polls jobs the simple way; remembers event ids to act on each event once."""

    def __init__(
        self, client: AsyncOpenAI, interval: float, seen_log: TextIO | None = None
    ) -> None:
        self._client = client
        self._interval = interval
        self._seen_log = seen_log  # `<event id> <epoch s>` when an event is first seen
        self._seen: dict[str, set[str]] = {}
        self._gate = asyncio.Semaphore(CONCURRENCY)
        self.jobs: list[str] = []
        self.passes = 0

    async def start(self) -> None:
        self.jobs = [job.id async for job in self._client.fine_tuning.jobs.list(limit=100)]

    async def run(self, passes: int | None = None) -> None:
        while passes is None or self.passes < passes:
            started = time.monotonic()
            await asyncio.gather(*(self._check(job_id) for job_id in list(self.jobs)))
            self.passes += 1
            await asyncio.sleep(max(0.0, self._interval - (time.monotonic() - started)))

    async def _check(self, job_id: str) -> None:
        async with self._gate:
            try:
                job = await self._client.fine_tuning.jobs.retrieve(job_id)
                page = await self._client.fine_tuning.jobs.list_events(job_id, limit=100)
            except Exception:  # noqa: BLE001 - a naive watcher shrugs and tries next time
                return
            if job.status in TERMINAL:
                self.jobs.remove(job_id)
            seen = self._seen.setdefault(job_id, set())
            fresh = [e for e in page.data if e.id not in seen]
            seen.update(e.id for e in fresh)
            self._log_seen([e.id for e in fresh])
            if job.status == "running" and any(_probe(e.data) for e in fresh):
                await self._pause(job_id)

    def _log_seen(self, event_ids: list[str]) -> None:
        # For bench.cadence's detection latency; it costs no request.
        if self._seen_log is not None and event_ids:
            at = time.time()
            self._seen_log.write("".join(f"{event_id} {at:.3f}\n" for event_id in event_ids))
            self._seen_log.flush()

    async def _pause(self, job_id: str) -> None:
        try:
            await self._client.fine_tuning.jobs.pause(job_id)
        except Exception:  # noqa: BLE001
            return


def _probe(data: Any) -> bool:
    return isinstance(data, dict) and float(data.get("probe") or 0) > 0.5


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--seen-log", type=Path, help="write `<event id> <epoch s>` per new event")
    args = parser.parse_args()
    client = AsyncOpenAI(base_url=args.base_url, api_key="sk-bench", max_retries=2)
    seen_log = args.seen_log.open("a", encoding="utf-8") if args.seen_log else None
    watcher = NaiveWatcher(client, args.interval, seen_log)
    await watcher.start()
    print(f"watching {len(watcher.jobs)}", flush=True)
    await watcher.run()


if __name__ == "__main__":
    asyncio.run(main())
