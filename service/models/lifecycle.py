"""ftwatch's job lifecycle: its statuses, what they mean, and each vendor's mapping onto them.

Every other module speaks these names only. A provider's raw status is mapped once, where
it is read (`lifecycle(raw, mapping)`), and kept beside as `raw_status`. SPEC §4.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator

Status = Literal[
    "validating",
    "queued",
    "running",
    "pausing",
    "paused",
    "resuming",
    "succeeded",
    "failed",
    "cancelled",
    "unknown",
]
STATUSES: tuple[Status, ...] = get_args(Status)

TERMINAL: frozenset[Status] = frozenset({"succeeded", "failed", "cancelled"})
# No metrics flow until the job starts or resumes: it changes slowly (polled less often).
IDLE: frozenset[Status] = frozenset({"validating", "queued", "paused"})
# Held until something happens that a listing, an event or a webhook shows; the others
# (pausing, resuming, unknown, terminal) are in motion or final: read the job each poll.
STEADY: frozenset[Status] = IDLE | {"running"}
# Statuses a paused job is still in: leaving them for a live status is a resume.
_STILL_PAUSED: frozenset[Status] = frozenset({"pausing", "paused"})
# Statuses in which an action's goal already holds.
_REACHED: dict[str, frozenset[Status]] = {
    "pause": _STILL_PAUSED,
    "resume": frozenset({"validating", "queued", "running", "resuming"}),
    "cancel": frozenset({"cancelled"}),
}
# The status each action needs to act on (pausing a queued job is refused upstream).
_ACTS_ON: dict[str, Status] = {"pause": "running", "resume": "paused"}

OPENAI: dict[str, Status] = {
    "validating_files": "validating",
    "queued": "queued",
    "pending": "queued",
    "running": "running",
    "pausing": "pausing",
    "paused": "paused",
    "resuming": "resuming",
    "succeeded": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
}
# Together AI (providers.md §2.3). It has no `cancelling`: `cancel_requested` is already
# ftwatch's `cancelled` (the raw word is kept), so a cancel is not re-sent while it lands.
TOGETHER: dict[str, Status] = {
    "pending": "queued",
    "queued": "queued",
    "running": "running",
    "compressing": "running",
    "uploading": "running",
    "cancel_requested": "cancelled",
    "cancelled": "cancelled",
    "completed": "succeeded",
    "error": "failed",
    "user_error": "failed",
}
# Each provider kind's table; Azure speaks OpenAI's words (its `pending` is in OPENAI).
TABLES: dict[str, dict[str, Status]] = {
    "openai": OPENAI,
    "azure_openai": OPENAI,
    "together": TOGETHER,
}
# What a rules file, an ingested event, a filter or stored data may say: ftwatch's names,
# and OpenAI's, which were ftwatch's before it had its own.
_NAMES: dict[str, Status] = OPENAI | {s: s for s in STATUSES}


def lifecycle(raw: str, mapping: dict[str, Status]) -> Status:
    """ftwatch's status for a provider's raw status; a string nobody mapped is `unknown`."""
    return mapping.get(raw, "unknown")


def of_kind(kind: str, raw: str) -> Status:
    """ftwatch's status for a raw status of a provider of `kind` (unlisted kinds: OpenAI's)."""
    return lifecycle(raw, TABLES.get(kind, OPENAI))


def from_openai(raw: str) -> Status:
    """ftwatch's status for an OpenAI job status."""
    return lifecycle(raw, OPENAI)


def named(name: str) -> Status | None:
    """The status a person or a trainer means by `name` (legacy OpenAI names too), or None."""
    return _NAMES.get(name)


def recorded(value: str | None) -> Status:
    """A status read back from storage (older versions kept OpenAI's); None: never read."""
    return "unknown" if value is None else _NAMES.get(value, "unknown")


def _as_recorded(value: Any) -> Any:
    return recorded(value) if isinstance(value, str) else value


def parse(name: str) -> Status:
    """`named`, or a ValueError that lists the names ftwatch knows."""
    status = named(name)
    if status is None:
        raise ValueError(f"unknown status {name!r} (known: {', '.join(STATUSES)})")
    return status


def _as_named(value: Any) -> Any:
    # Not a string: left to the type check that follows, which names the error.
    return parse(value) if isinstance(value, str) else value


# A status field of stored records (snapshots, events, firings, rule state): never rejected.
RecordedStatus = Annotated[Status, BeforeValidator(_as_recorded)]
# A status field people and trainers write: legacy names mapped, anything else an error.
StatusName = Annotated[Status, BeforeValidator(_as_named)]


def is_terminal(status: Status | None) -> bool:
    """The job finished: succeeded, failed or cancelled."""
    return status in TERMINAL


def is_running(status: Status) -> bool:
    """Training: its events come at the job's own cadence (service.models.cadence)."""
    return status == "running"


def is_idle(status: Status) -> bool:
    """Validating, queued or paused: no metrics flow, the status changes rarely."""
    return status in IDLE


def in_motion(status: Status) -> bool:
    """Not steady: changing by itself (pausing, resuming), unknown, or final: read the job."""
    return status not in STEADY


def is_known(status: Status) -> bool:
    """A status ftwatch can name (`unknown`: never read, or a string nobody mapped)."""
    return status != "unknown"


def is_paused(status: Status | None) -> bool:
    return status == "paused"


def is_failure(status: Status | None) -> bool:
    return status == "failed"


def was_resumed(old: Status | None, new: Status) -> bool:
    """A paused job went live again (a move to a terminal status is no resume)."""
    return is_paused(old) and new not in _STILL_PAUSED and not is_terminal(new)


def reached(action: str, status: Status) -> bool:
    """The job is already where `action` (pause, resume, cancel) would take it."""
    return status in _REACHED[action]


def pointless(action: str, status: Status) -> str | None:
    """Why `action` cannot apply to a job in `status` (None: it can)."""
    if is_terminal(status):
        return f"job already {status}"
    needed = _ACTS_ON.get(action)
    if needed is not None and status != needed:
        return f"job is {status}, not {needed}"
    return None
