"""How often to poll a job, by status (pure)."""

from __future__ import annotations

from service.upstream.models import TERMINAL_STATUSES

# Statuses in which a job changes slowly: no metrics flow until it starts or resumes.
IDLE_STATUSES = frozenset({"validating_files", "queued", "pending", "paused"})


def poll_delay(status: str, interval: float, idle_factor: float) -> float | None:
    """Seconds until the next poll, or None when the job is terminal (drop it after draining).

    Running jobs, and any status nobody has documented yet (`pausing`, `resuming`, new
    ones), are polled every `interval`: an unknown status is safer watched closely.
    """
    if status in TERMINAL_STATUSES:
        return None
    if status in IDLE_STATUSES:
        return interval * idle_factor
    return interval
