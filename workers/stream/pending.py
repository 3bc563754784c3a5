"""Export each consumer group's pending count as `ftwatch_stream_pending{stream}`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from redis.exceptions import RedisError

from service.metrics import Metrics
from workers.stream.consumer import StreamConsumer
from workers.waiting import wait_event

# Pending counts change with load; a scrape every 15 s sees a value at most this old.
REPORT_INTERVAL = 5.0


async def report_pending(
    consumers: Sequence[StreamConsumer], metrics: Metrics, stop: asyncio.Event
) -> None:
    """Refresh the gauges until `stop`; a Redis outage leaves the last values."""
    while not stop.is_set():
        for consumer in consumers:
            with contextlib.suppress(RedisError):
                count = await consumer.pending()
                metrics.stream_pending.labels(consumer.config.stream).set(count)
        await wait_event(stop, REPORT_INTERVAL)
