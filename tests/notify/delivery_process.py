"""A delivery worker in a process of its own, for tests that kill it (SIGKILL).

Usage: python -m tests.notify.delivery_process REDIS_URL RECEIVER_URL FIRST_DELAY
Delivers to one standard receiver `ops` (secret from SECRET_OPS) with a 1 s timeout;
the first retry waits FIRST_DELAY seconds, leaving time to kill the process in between.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp

from service.metrics import Metrics
from service.settings import environment
from service.store.connection import connect_redis
from service.store.scripts import Scripts
from tests.notify.delivery_support import FAST, receiver, rules_with
from workers.notify.delivery_policy import RetrySchedule
from workers.notify.worker import DeliveryConfig, DeliveryWorker


async def main(redis_url: str, receiver_url: str, first_delay: float) -> None:
    client = connect_redis(redis_url)
    config = DeliveryConfig(
        schedule=RetrySchedule(delays=(first_delay, 0.05), jitter=0.0),
        poll_seconds=FAST.poll_seconds,
        lease_margin_seconds=FAST.lease_margin_seconds,
        claim_idle_ms=FAST.claim_idle_ms,
    )
    rules = rules_with(receiver("ops", receiver_url, timeout=1))
    async with aiohttp.ClientSession() as session:
        worker = DeliveryWorker(
            client,
            Scripts(client),
            session,
            rules,
            Metrics(),
            consumer="child",
            environ=environment(),
            config=config,
        )
        print("ready", flush=True)
        await worker.run(asyncio.Event())  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
