"""Durations as people write them: "30s", "10m", "2h", "1h30m", "1d" or a number of seconds.

Pure; shared by the settings (FTWATCH_WEBHOOK_RETRY_DELAYS) and the rules file.
"""

from __future__ import annotations

import math
import re
from typing import Any

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)\s*)+")
# A year: anything longer is a typo ("30000h"), not a cooldown anyone means.
MAX_SECONDS = 366 * 86400.0


def parse_duration(value: Any) -> float:
    """Seconds of a duration; ValueError with a user-facing message otherwise."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 30s, 10m, 2h or 1h30m")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_text(value.strip().lower())
    else:
        raise ValueError("must be a duration such as 30s, 10m, 2h or 1h30m")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("must be a positive duration")
    if seconds > MAX_SECONDS:
        raise ValueError("must be at most 366d")
    return seconds


def _parse_text(text: str) -> float:
    try:
        return float(text)  # "90" is 90 seconds, like a bare YAML number
    except ValueError:
        pass
    if not _WHOLE.fullmatch(text):
        raise ValueError(f"{text!r} is not a duration such as 30s, 10m, 2h or 1h30m")
    return sum(float(number) * _UNITS[unit] for number, unit in _PART.findall(text))
