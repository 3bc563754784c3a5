"""The bounded queue between the training loop and the sender thread, and the sender's health."""

from __future__ import annotations

import collections
import logging
import random
import threading
from typing import Any

log = logging.getLogger("ftwatch_client")

Event = dict[str, Any]


class Buffer:
    """Events waiting to be sent; when full, the oldest go first and are counted.

    The training loop only appends under a lock (no I/O, no waiting): a slow or absent
    ftwatch costs it memory up to `capacity` events, never time.
    """

    def __init__(self, capacity: int, wake_at: int) -> None:
        if capacity < 1:
            raise ValueError(f"max_queue must be >= 1, got {capacity}")
        self._events: collections.deque[Event] = collections.deque(maxlen=capacity)
        self.capacity = capacity
        self.wake_at = wake_at  # a full batch wakes the sender before its flush interval
        self.dropped = 0
        self.lock = threading.Condition()

    def put(self, event: Event) -> None:
        with self.lock:
            if len(self._events) == self.capacity:
                self.dropped += 1
            self._events.append(event)
            if len(self._events) == self.wake_at:
                self.lock.notify()

    def put_back(self, batch: list[Event]) -> None:
        """A batch that failed goes back to the front, unless newer events took its room."""
        with self.lock:
            room = self.capacity - len(self._events)
            keep = batch[max(len(batch) - room, 0) :]
            self.dropped += len(batch) - len(keep)
            self._events.extendleft(reversed(keep))

    def take(self, limit: int) -> list[Event]:
        """Up to `limit` of the oldest events, removed from the queue."""
        with self.lock:
            count = min(limit, len(self._events))
            return [self._events.popleft() for _ in range(count)]

    def __len__(self) -> int:
        return len(self._events)


class Backoff:
    """Exponential delays with full jitter (0.5 s doubling, capped), reset on success."""

    def __init__(self, base: float = 0.5, cap: float = 30.0) -> None:
        self.base, self.cap, self.failures = base, cap, 0

    def next_delay(self, hint: float | None = None) -> float:
        """The wait before the next try; a server's Retry-After wins when it gives one."""
        self.failures += 1
        if hint is not None:
            return min(hint, self.cap)
        ceiling = min(self.cap, self.base * 2 ** (self.failures - 1))
        return random.uniform(ceiling / 2, ceiling)  # jitter, not secrecy

    def reset(self) -> None:
        self.failures = 0


class Health:
    """Says once that ftwatch is unreachable (not once per batch), and once that it is back."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.down = False
        self.failures = 0
        self._lock = threading.Lock()

    def failed(self, error: str) -> None:
        with self._lock:
            self.failures += 1
            was_down, self.down = self.down, True
        if not was_down:
            log.warning(
                "ftwatch at %s is unreachable (%s); training goes on, events are kept "
                "in a bounded queue and sent when it answers again",
                self.url,
                error,
            )

    def succeeded(self, dropped: int) -> None:
        with self._lock:
            was_down, self.down = self.down, False
        if was_down:
            log.warning(
                "ftwatch at %s is reachable again (%d events dropped meanwhile)", self.url, dropped
            )
