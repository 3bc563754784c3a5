"""When to try an upstream call again: openai-python's backoff and Retry-After rules. Pure."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import mktime_tz, parsedate_tz


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff shape and Retry-After cap; tests shrink `base`/`cap` to run fast."""

    # openai-python: 0.5 s * 2^n capped at 8 s, minus up to 25% jitter.
    base: float = 0.5
    cap: float = 8.0
    jitter: float = 0.25
    # A Retry-After beyond this is surfaced instead of waited for (reference §6).
    max_retry_after: float = 120.0

    def backoff(self, attempts: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after `attempts` failed attempts (1 = before the first retry)."""
        exponent = min(max(attempts - 1, 0), 60)  # 2**60 already dwarfs any cap
        delay = min(self.cap, self.base * 2.0**exponent)
        return delay * (1.0 - self.jitter * rand())


# A reset this large is a unix time, not a number of seconds.
_EPOCH = 1_000_000_000


def retry_after_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """`retry-after-ms`, else `Retry-After` (seconds or HTTP date, against wall-clock `now`),
    else `x-ratelimit-reset` (Together's suggested wait, providers.md §2.7).

    None when absent, unreadable or not in the future: the caller backs off instead.
    """
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None and millis > 0:
        return millis / 1000.0
    value = headers.get("retry-after")
    if value is None:
        return reset_seconds(headers, now)
    seconds = _number(value)
    if seconds is None:
        parsed = parsedate_tz(value)
        seconds = None if parsed is None else float(mktime_tz(parsed)) - now
    return seconds if seconds is not None and seconds > 0 else None


def reset_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until `x-ratelimit-reset` (seconds, or a unix time); None if absent or past."""
    reset = _number(headers.get("x-ratelimit-reset"))
    if reset is None:
        return None
    seconds = reset - now if reset > _EPOCH else reset
    return seconds if seconds > 0 else None


def exhausted_for(headers: Mapping[str, str], now: float) -> float | None:
    """A success that spent the last request of the window (`x-ratelimit-remaining: 0`):
    the seconds to hold further calls rather than earn a 429; None while some remain."""
    remaining = _number(headers.get("x-ratelimit-remaining"))
    if remaining is None or remaining > 0:
        return None
    return reset_seconds(headers, now)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None
