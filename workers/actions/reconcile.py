"""Judge an action against the job's actual status (pure): done already, pointless, or due."""

from __future__ import annotations

from service.upstream.models import TERMINAL_STATUSES

# Statuses in which an action's goal already holds.
_REACHED = {
    "pause": frozenset({"paused", "pausing"}),
    "resume": frozenset({"running", "queued", "resuming", "validating_files", "pending"}),
    "cancel": frozenset({"cancelled"}),
}


def already_done(action: str, status: str) -> bool:
    """True when the job is already where the action would take it."""
    return status in _REACHED[action]


def pointless(action: str, status: str) -> str | None:
    """Why the action cannot apply in `status` (None: it can)."""
    if status in TERMINAL_STATUSES:
        return f"job already {status}"
    if action == "resume" and status != "paused":
        return f"job is {status}, not paused"
    if action == "pause" and status != "running":
        return f"job is {status}, not running"
    return None
