"""Every Redis key name ftwatch uses, in one place.

A per-job key names the job by its key, `<provider>:<id>` (service.models.ident), never
by the bare upstream id: two providers' jobs of one id share nothing.

Partitions (Redis Cluster, `redis+cluster://`). A script or transaction may only touch
keys of one hash slot, and the scripts write a job's keys together with the shared
streams and schedules (append_events: the events stream; commit_rules: the actions,
action queue, delayed, deliveries and dead events). So the shared streams and schedules
are split into P partitions, each with a hash tag of its own (`{p3.n}`, see `tag`); a job belongs to
partition crc32(job key) % P and every per-job key carries its partition's tag, so each
script touches one slot, and the jobs' data spreads over P slots (so over the nodes).
The consumers read every partition (one consumer group reader per partition stream).
P = 16 (CLUSTER_PARTITIONS): enough for a cluster of up to 16 masters to share the load
(a slot never splits), few enough that one blocked reader per partition and stream
(3 streams x 16) stays well inside a node's connection pool.

Delivery state (receiver queues, delivery records, the dead deliveries) is per firing,
not per event: it shares one tag, `{deliveries}`, so a delivery's scripts stay atomic;
the active alerts (re-sent Alertmanager alerts) likewise share `{alerts}`.
Global single-key things (request budgets, leases of discovery, pace slots, effects'
records) need no tag: a single-key command or script is always one slot.

On one Redis or a Sentinel set P is 1 and no key has a tag: the names are those ftwatch
always used, so nothing migrates. The layout is the process's (one process talks to one
deployment): `connect_redis` sets it through `use_partitions`.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterable

from redis.crc import key_slot

# Part of every key's name on a cluster: changing it re-homes every job (new names), so
# it would take a new deployment on an empty cluster, like moving from one Redis to one.
CLUSTER_PARTITIONS = 16
_layout = {"partitions": 1}


def use_partitions(count: int) -> None:
    """Set the layout: 1 (one Redis, Sentinel: untagged names) or CLUSTER_PARTITIONS."""
    _layout["partitions"] = count


def partitions() -> range:
    """Every partition of the current layout (range(1) on one Redis)."""
    return range(_layout["partitions"])


def clustered() -> bool:
    """True when keys are tagged for a Redis Cluster (scripts then stay within a slot)."""
    return _layout["partitions"] > 1


def partition(job: str) -> int:
    """The partition of a job (its key, `<provider>:<id>`): stable across processes."""
    count = _layout["partitions"]
    return 0 if count == 1 else zlib.crc32(job.encode()) % count


def by_partition(job_ids: Iterable[str]) -> dict[int, list[str]]:
    """Job ids grouped by partition (one group on one Redis), each in the given order."""
    groups: dict[int, list[str]] = {}
    for job_id in job_ids:
        groups.setdefault(partition(job_id), []).append(job_id)
    return groups


@functools.cache
def tag(p: int) -> str:
    """Partition p's hash tag: `p<p>.<n>`, n the first whose slot is in the p-th 1/P of the
    slot range, so the partitions spread evenly over masters that split the slots evenly
    (plain `p0`…`p15` put 7 of 16 on one of three masters)."""
    count, slots = CLUSTER_PARTITIONS, 16384
    lower, upper = p * slots // count, (p + 1) * slots // count
    return next(
        f"p{p}.{n}" for n in range(1_000_000) if lower <= key_slot(f"p{p}.{n}".encode()) < upper
    )


def _shared(p: int, name: str) -> str:
    """A partition's copy of a shared stream or schedule: `ftwatch:{p3.n}:<name>` on a cluster."""
    return f"ftwatch:{name}" if not clustered() else f"ftwatch:{{{tag(p)}}}:{name}"


def _of_job(job: str, name: str) -> str:
    """A per-job key, tagged with the job's partition on a cluster (the tag comes first,
    so braces in a job id cannot become the tag)."""
    return f"ftwatch:{name}" if not clustered() else f"ftwatch:{{{tag(partition(job))}}}:{name}"


def _delivery(name: str) -> str:
    return f"ftwatch:{name}" if not clustered() else f"ftwatch:{{deliveries}}:{name}"


def events_stream(p: int = 0) -> str:
    return _shared(p, "events")


def actions_stream(p: int = 0) -> str:
    """The audit log of firings (partition p's share of it on a cluster)."""
    return _shared(p, "actions")


def deliveries_stream(p: int = 0) -> str:
    return _shared(p, "deliveries")


def dead_events_stream(p: int = 0) -> str:
    return _shared(p, "events:dead")


def action_queue(p: int = 0) -> str:
    return _shared(p, "action-queue")


def dead_actions_stream(p: int = 0) -> str:
    return _shared(p, "action-queue:dead")


def delayed(p: int = 0) -> str:
    """Delayed actions (resume after …) scored by due time (epoch ms); survives restarts."""
    return _shared(p, "delayed")


def schedule(p: int = 0) -> str:
    """Watched, non-terminal jobs scored by when their next poll is due (epoch ms)."""
    return _shared(p, "schedule")


def jobs(p: int = 0) -> str:
    """Every job ftwatch has a snapshot of (terminal ones too), for the API."""
    return _shared(p, "jobs")


def poison_stream(p: int = 0) -> str:
    """Delivery requests the admission could not even handle (kept beside their stream)."""
    return _shared(p, "deliveries:poison")


def dead_deliveries_stream() -> str:
    return _delivery("deliveries:dead")


def delivery_queue(receiver: str) -> str:
    """The zset of one receiver's pending deliveries (receiver names are [A-Za-z0-9_.-])."""
    return _delivery(f"deliveries:queue:{receiver}")


def delivery_record(delivery_id: str) -> str:
    return _delivery(f"delivery:{delivery_id}")


def _alerts(name: str) -> str:
    return f"ftwatch:alerts:{name}" if not clustered() else f"ftwatch:{{alerts}}:alerts:{name}"


def alerts_due() -> str:
    """Zset of active alerts by when each is next re-sent (service/store/active_alerts.py)."""
    return _alerts("due")


def alerts_record() -> str:
    return _alerts("record")


def alerts_state() -> str:
    return _alerts("state")


# The single-Redis names (P = 1), for readers that only ever run on one Redis (the demo,
# the benches, the tests of one server). Code that may run on a cluster calls the
# functions above with a partition.
EVENTS_STREAM = "ftwatch:events"
ACTIONS_STREAM = "ftwatch:actions"
DELIVERIES_STREAM = "ftwatch:deliveries"
DEAD_DELIVERIES_STREAM = "ftwatch:deliveries:dead"
DEAD_EVENTS_STREAM = "ftwatch:events:dead"
ACTION_QUEUE = "ftwatch:action-queue"
DEAD_ACTIONS_STREAM = "ftwatch:action-queue:dead"
DELAYED = "ftwatch:delayed"
SCHEDULE = "ftwatch:schedule"
JOBS = "ftwatch:jobs"
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


def poll_stretch(provider: str) -> str:
    """Factor (>= 1) by which a provider's poll delays grow to fit its request budget.

    Set (expiring) by the census replica; every replica applies it to that provider's jobs.
    """
    return f"ftwatch:poll-stretch:{provider}"


def request_budget(provider: str) -> str:
    """Token bucket of a provider's requests, shared by every replica (SPEC §11)."""
    return f"ftwatch:budget:{provider}"


def job(job: str) -> str:
    """Hash: the job snapshot plus the poll cursor (`cursor`) and `done` once drained."""
    return _of_job(job, f"job:{job}")


def seen(job: str) -> str:
    """Sorted set of the job's most recent event ids: what makes appends idempotent."""
    return _of_job(job, f"job:{job}:seen")


LISTED_SUFFIX = ":listed"


def listed(job: str) -> str:
    """String `<ms>|<job JSON>`: the job as the jobs listing showed it before its first poll."""
    return _of_job(job, f"job:{job}{LISTED_SUFFIX}")


def lease(job: str) -> str:
    """The poll lease of a job: value is the owning replica, expiry frees it."""
    return _of_job(job, f"lease:job:{job}")


def rule_state(job: str) -> str:
    """Hash: per-rule state of a job (field = rule name) plus `_seq` and `_v` (version)."""
    return _of_job(job, f"rules:{job}")


def job_actions(job: str) -> str:
    """Counter numbering the actions claimed for a job, so a stale retry can tell."""
    return _of_job(job, f"job-actions:{job}")


def firing_outcomes(firing_id: str) -> str:
    """Hash of a firing's upstream actions (field: action) to their audit records (a Firing
    with that action's outcome and the checkpoint it found): what its notices wait for."""
    return f"ftwatch:firing-outcomes:{firing_id}"


def effect(effect_key: str, job: str) -> str:
    """An action's idempotency record: `started:<n>` (see job_actions), then `done:<outcome>`.

    Tagged with its job's partition: the claim script reads it with the job's counter."""
    return _of_job(job, f"effect:{effect_key}")


def webhook_seen(msg_id: str) -> str:
    """String, expiring: an inbound webhook's `webhook-id` was already acted on (replays)."""
    return f"ftwatch:webhook-seen:{msg_id}"


def decisions(job: str) -> str:
    """Hash: an ingested job's decisions (`d:<id>`: the Decision) and acks (`a:<id>`)."""
    return _of_job(job, f"decisions:{job}")
