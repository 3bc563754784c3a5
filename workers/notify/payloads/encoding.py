"""JSON bytes, times and links as every payload format writes them."""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import quote

# The API writes its times in the same form: one function for both.
from service.models.times import iso_time

__all__ = ["EPOCH", "ZERO_TIME", "encode", "iso_time", "job_url", "json_safe"]

EPOCH = "1970-01-01T00:00:00.000Z"
# Go's zero time: what Alertmanager writes as `endsAt` of an alert that is still firing.
ZERO_TIME = "0001-01-01T00:00:00Z"


def json_safe(value: Any) -> Any:
    """`value` with NaN and ±inf replaced by "NaN", "Infinity", "-Infinity" (JSON has none)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def encode(payload: Any) -> bytes:
    """Compact, key-sorted, ASCII-only JSON: the same payload always gives the same bytes."""
    # ensure_ascii: a lone surrogate in a metadata string still encodes (as \\udXXX).
    text = json.dumps(
        json_safe(payload),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    )
    return text.encode("ascii")


def job_url(external_url: str | None, job_key: str) -> str | None:
    """The job's page in ftwatch's API (`GET /v1/jobs/{id}`), when the external URL is known."""
    if not external_url:
        return None
    return f"{external_url.rstrip('/')}/v1/jobs/{quote(job_key, safe=':', errors='surrogatepass')}"
