"""Every Redis key name ftwatch uses, in one place.

A per-job key names the job by its key, `<provider>:<id>` (service.models.ident), never
by the bare upstream id: two providers' jobs of one id share nothing.
"""

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
# Factor (>= 1) by which poll delays grow to fit the request budget; set by the census.
POLL_STRETCH = "ftwatch:poll-stretch"
# Token bucket of upstream requests shared by every replica (FTWATCH_MAX_REQUESTS_PER_SECOND).
REQUEST_BUDGET = "ftwatch:budget:upstream"
LEASE_PREFIX = "ftwatch:lease:job:"


def discovery_lease(provider: str) -> str:
    """One replica at a time lists a provider's jobs."""
    return f"ftwatch:lease:discovery:{provider}"


def discovery_mark(provider: str) -> str:
    """Hash `id`, `created_at`: the newest job the provider's last jobs sweep listed.

    Terminal jobs listed above it were created since: the sweep adopts them for their
    final drain. Absent until ftwatch first sweeps the provider, so the history before
    it started watching is never adopted.
    """
    return f"ftwatch:discovery:mark:{provider}"


def request_budget(provider: str) -> str:
    """Token bucket of a provider's requests, shared by every replica (SPEC §11)."""
    return f"ftwatch:budget:{provider}"


def job(job: str) -> str:
    """Hash: the job snapshot plus the poll cursor (`cursor`) and `done` once drained."""
    return f"ftwatch:job:{job}"


def seen(job: str) -> str:
    """Sorted set of the job's most recent event ids: what makes appends idempotent."""
    return f"ftwatch:job:{job}:seen"


LISTED_SUFFIX = ":listed"


def listed(job: str) -> str:
    """String `<ms>|<job JSON>`: the job as the jobs listing showed it before its first poll."""
    return f"ftwatch:job:{job}{LISTED_SUFFIX}"


def lease(job: str) -> str:
    """The poll lease of a job: value is the owning replica, expiry frees it."""
    return f"{LEASE_PREFIX}{job}"


def rule_state(job: str) -> str:
    """Hash: per-rule state of a job (field = rule name) plus `_seq` and `_v` (version)."""
    return f"ftwatch:rules:{job}"


def job_actions(job: str) -> str:
    """Counter numbering the actions claimed for a job, so a stale retry can tell."""
    return f"ftwatch:job-actions:{job}"


def effect(effect_key: str) -> str:
    """An action's idempotency record: `started:<n>` (see job_actions), then `done:<outcome>`."""
    return f"ftwatch:effect:{effect_key}"


def webhook_seen(msg_id: str) -> str:
    """String, expiring: an inbound webhook's `webhook-id` was already acted on (replays)."""
    return f"ftwatch:webhook-seen:{msg_id}"


def decisions(job: str) -> str:
    """Hash: an ingested job's decisions (`d:<id>`: the Decision) and acks (`a:<id>`)."""
    return f"ftwatch:decisions:{job}"
