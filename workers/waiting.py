"""Waiting for an event with a timeout, without ever losing a cancellation.

Python 3.11's `asyncio.wait_for` returns the inner result when a cancellation arrives
in the same loop iteration as the awaited event (CPython gh-86296, fixed in 3.12 by
building wait_for on `asyncio.timeout`). A loop that waited that way and was cancelled
just as it was woken went on running: `DeliveryWorker.run()` hung on shutdown 1 run in
11 (issue 16). `asyncio.timeout` converts only its own cancellation into TimeoutError.
"""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` pass; True when it is set."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
