"""Request counts per endpoint and status, so load tests can report request rates."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any


class RequestStats:
    """Counts API requests by `METHOD /route/{template}` and by HTTP status."""

    def __init__(self) -> None:
        self.started_mono = time.monotonic()
        self.started_at = time.time()
        self.by_endpoint: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()

    def count(self, endpoint: str, status: int) -> None:
        self.by_endpoint[endpoint] += 1
        self.by_status[status] += 1

    def to_json(self, injected: dict[str, int]) -> dict[str, Any]:
        """Totals since start; `injected` counts the faults the injector answered with."""
        uptime = time.monotonic() - self.started_mono
        total = sum(self.by_endpoint.values())
        return {
            "started_at": self.started_at,
            "uptime_s": round(uptime, 3),
            "total": total,
            "rate_per_s": round(total / uptime, 3) if uptime > 0 else 0.0,
            "by_endpoint": dict(self.by_endpoint),
            "by_status": {str(code): n for code, n in sorted(self.by_status.items())},
            "faults": dict(injected),
        }
