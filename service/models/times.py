"""Times as ftwatch writes them for people and clients: RFC 3339 UTC with milliseconds.

ftwatch keeps epoch seconds inside (Redis, the rule engine); the API and the webhooks
write times in this one form (`2026-12-04T18:36:26.500Z`), and read either form back.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime


def iso_time(timestamp: float | None) -> str | None:
    """Unix seconds as RFC 3339 UTC with milliseconds; None when absent or not a real time."""
    if timestamp is None or not math.isfinite(timestamp):
        return None
    try:
        moment = datetime.fromtimestamp(timestamp, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def epoch_of(text: str) -> float:
    """An ISO-8601 time with its zone (`Z` or `+02:00`) as unix seconds; ValueError otherwise."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("an ISO-8601 time needs its zone (Z or +00:00)")
    return moment.timestamp()
