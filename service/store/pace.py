"""A receiver's send pace, shared by every replica: one send at a time, then a gap.

`ftwatch:deliveries:pace:<receiver>` (hash `until_us`, `token`) says when the next send
to the receiver may start. A sender takes the slot (held at most its lease), sends, and
releases it with the gap the receiver asks for (Slack: 1 s, or a 429's Retry-After). The
gap counts from the response, so the receiver sees its messages at least that far apart,
whatever the latency of each request. Times are the Redis server's.
"""

from __future__ import annotations

from service.store.scripts import Scripts

PACE_PREFIX = "ftwatch:deliveries:pace:"


def pace_key(receiver: str) -> str:
    return f"{PACE_PREFIX}{receiver}"


class Pace:
    """The send slot of one receiver."""

    def __init__(self, scripts: Scripts, receiver: str) -> None:
        self._scripts = scripts
        self._key = pace_key(receiver)

    async def take(self, token: str, hold_seconds: float) -> float:
        """0.0 when the slot is now `token`'s (for at most `hold_seconds`), else the wait."""
        wait_ms = await self._scripts.take_pace(
            keys=[self._key], args=[token, int(hold_seconds * 1000)]
        )
        return int(wait_ms) / 1000

    async def release(self, token: str, after_seconds: float) -> bool:
        """Free the slot `after_seconds` from now; False if `token` no longer held it."""
        done = await self._scripts.release_pace(
            keys=[self._key], args=[token, max(int(after_seconds * 1000), 0)]
        )
        return bool(done)
