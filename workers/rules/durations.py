"""Durations in the rules file: "30s", "10m", "2h", "1h30m", "1d" or a number of seconds.

Parsed by service/durations.py (the settings use the same parser); shown here.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BeforeValidator

from service.durations import parse_duration

__all__ = ["Duration", "format_duration", "parse_duration"]  # parse_duration: its old home


def format_duration(seconds: float) -> str:
    """A compact human duration naming its units: 45s, 10m, 1h30m, 2d3h."""
    if not math.isfinite(seconds):
        return str(seconds)
    if seconds < 1:
        return f"{seconds:.3g}s"
    total = round(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts[:2])


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds (> 0), written in the rules file as "30s", "10m", "2h", "1h30m" or a number."""
