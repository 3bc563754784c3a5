"""How long other requests wait while big ingest batches are validated and folded.

`python -m bench.ingest_stall [--rounds N]`: the API app on a private redis-server, four
batches of 500 events (~1 MB each, just under the body limit) posted at once each round,
while a thread times `GET /healthz` round trips. Run with the batch worked in slices of
SLICE events (what ftwatch does) and in one piece (SLICE = the batch), in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import SecretStr

from bench.common import machine, private_redis, table
from service.api import ingest_slices
from service.app import create_app
from service.logsetup import configure_logging
from service.settings import Settings
from tests.api.conftest import healthz_probe

TOKEN = "bench-token"
METRICS = 58  # per event: 500 events make a ~1 MB batch


def batch(job_id: str) -> bytes:
    events: list[dict[str, Any]] = [
        {
            "job_id": job_id,
            "event_id": f"step-{i}",
            "created_at": 1_700_000_000 + i,
            "type": "metrics",
            "data": {"step": i, **{f"loss_{k}": 1.0 / (i + k + 1) for k in range(METRICS)}},
        }
        for i in range(500)
    ]
    return json.dumps({"events": events}).encode()


async def _round(http: aiohttp.ClientSession, url: str, bodies: list[bytes]) -> float:
    """Post the batches at once; the round's worst /healthz round trip, in seconds."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    async def post(body: bytes) -> None:
        async with http.post(f"{url}/v1/ingest/events", data=body, headers=headers) as resp:
            assert resp.status == 200, await resp.text()

    port = int(url.rsplit(":", 1)[1])
    with healthz_probe(port) as times:
        await asyncio.gather(*(post(body) for body in bodies))
    return max(times) if times else 0.0


async def measure(slice_size: int, rounds: int, redis_url: str) -> list[float]:
    """Worst /healthz per round with batches worked `slice_size` events at a time."""
    ingest_slices.SLICE = slice_size
    settings = Settings(redis_url=redis_url, api_token=SecretStr(TOKEN))
    runner = web.AppRunner(create_app(settings, role="api"), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with aiohttp.ClientSession() as http:
            out = []
            for n in range(rounds):
                bodies = [batch(f"s{slice_size}-r{n}-j{j}") for j in range(4)]
                out.append(await _round(http, url, bodies))
            return out
    finally:
        await runner.cleanup()


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_stall")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    configure_logging("console", "warning")  # the table only
    print(f"$ python -m bench.ingest_stall --rounds {args.rounds}\n{machine()}\n")
    sliced = ingest_slices.SLICE
    rows = []
    with private_redis() as redis:
        for size, name in ((sliced, f"slices of {sliced} (ftwatch)"), (500, "one piece")):
            started = time.monotonic()
            worst = await measure(size, args.rounds, redis.url)
            seconds = time.monotonic() - started
            ms = [w * 1000 for w in worst]
            rows.append([name, args.rounds, statistics.median(ms), max(ms), seconds])
    ingest_slices.SLICE = sliced
    headers = ["batch worked in", "rounds", "worst /healthz p50 ms", "max ms", "total s"]
    print(table(headers, rows))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
