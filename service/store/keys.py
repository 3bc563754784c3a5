"""Every Redis key name ftwatch uses, in one place."""

from __future__ import annotations

EVENTS_STREAM = "ftwatch:events"
ACTIONS_STREAM = "ftwatch:actions"
DELIVERIES_STREAM = "ftwatch:deliveries"
DEAD_DELIVERIES_STREAM = "ftwatch:deliveries:dead"
DEAD_EVENTS_STREAM = "ftwatch:events:dead"
ACTION_QUEUE = "ftwatch:action-queue"
DEAD_ACTIONS_STREAM = "ftwatch:action-queue:dead"
# Delayed actions (resume after …) scored by due time (epoch ms); survives restarts.
DELAYED = "ftwatch:delayed"

# Watched, non-terminal jobs scored by when their next poll is due (epoch ms).
SCHEDULE = "ftwatch:schedule"
# Every job ftwatch has a snapshot of (terminal ones too), for the API.
JOBS = "ftwatch:jobs"
DISCOVERY_LEASE = "ftwatch:lease:discovery"
# Factor (>= 1) by which poll delays grow to fit the request budget; set by the census.
POLL_STRETCH = "ftwatch:poll-stretch"
# Token bucket of upstream requests shared by every replica (FTWATCH_MAX_REQUESTS_PER_SECOND).
REQUEST_BUDGET = "ftwatch:budget:upstream"
LEASE_PREFIX = "ftwatch:lease:job:"


def job(job_id: str) -> str:
    """Hash: the job snapshot plus the poll cursor (`cursor`) and `done` once drained."""
    return f"ftwatch:job:{job_id}"


def seen(job_id: str) -> str:
    """Sorted set of the job's most recent event ids: what makes appends idempotent."""
    return f"ftwatch:job:{job_id}:seen"


LISTED_SUFFIX = ":listed"


def listed(job_id: str) -> str:
    """String `<ms>|<job JSON>`: the job as the jobs listing showed it before its first poll."""
    return f"ftwatch:job:{job_id}{LISTED_SUFFIX}"


def lease(job_id: str) -> str:
    """The poll lease of a job: value is the owning replica, expiry frees it."""
    return f"{LEASE_PREFIX}{job_id}"


def rule_state(job_id: str) -> str:
    """Hash: per-rule state of a job (field = rule name) plus `_seq` and `_v` (version)."""
    return f"ftwatch:rules:{job_id}"


def job_actions(job_id: str) -> str:
    """Counter numbering the actions claimed for a job, so a stale retry can tell."""
    return f"ftwatch:job-actions:{job_id}"


def effect(effect_key: str) -> str:
    """An action's idempotency record: `started:<n>` (see job_actions), then `done:<outcome>`."""
    return f"ftwatch:effect:{effect_key}"
