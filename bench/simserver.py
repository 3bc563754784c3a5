"""The simulator as a benchmark child process, counting requests per job.

`python -m bench.simserver --scenario FILE --port N` serves the simulator (its own
/_sim/stats included) plus GET /_bench/polls: per job id, the requests of each endpoint.
A child process of its own, so its CPU is measured apart from ftwatch's.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections import Counter
from typing import Any

from aiohttp import web

from simulator.app import create_app
from simulator.platform import Platform
from simulator.scenario import load_scenario


class CountingPlatform(Platform):
    """The simulator's platform, counting the reads of each job."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.job_reads: Counter[str] = Counter()
        self.event_reads: Counter[str] = Counter()

    def get_job(self, job_id: str) -> dict[str, Any]:
        self.job_reads[job_id] += 1
        return super().get_job(job_id)

    def list_events(
        self, job_id: str, *, after: str | None = None, limit: int = 20
    ) -> tuple[list[Any], bool]:
        self.event_reads[job_id] += 1
        return super().list_events(job_id, after=after, limit=limit)


def build(scenario_path: str) -> web.Application:
    platform = CountingPlatform(load_scenario(scenario_path))
    app = create_app(platform)

    async def polls(_: web.Request) -> web.Response:
        return web.json_response(
            {"get_job": platform.job_reads, "list_events": platform.event_reads}
        )

    app.router.add_get("/_bench/polls", polls)
    return app


async def serve(scenario_path: str, port: int) -> None:
    runner = web.AppRunner(build(scenario_path), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.scenario, args.port))


if __name__ == "__main__":
    main()
