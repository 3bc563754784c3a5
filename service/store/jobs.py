"""Job snapshots, poll cursors and the idempotent append of events to `ftwatch:events`."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from service.models.event import NormalizedEvent
from service.models.ident import JobRef
from service.models.job import JobSnapshot
from service.models.lifecycle import Status, recorded
from service.store import keys
from service.store.scripts import Scripts

# Snapshot fields stored as JSON inside the job hash; the rest are plain strings.
_JSON_FIELDS = ("metadata", "metrics", "provider_details")
_SNAPSHOT_FIELDS = tuple(JobSnapshot.model_fields)
# Job hash field of the poll cadence model's state; it moves with the job, not the replica.
CADENCE_FIELD = "cadence"


@dataclass(frozen=True)
class JobRecord:
    """A job's snapshot plus its poll bookkeeping."""

    snapshot: JobSnapshot
    cursor: str | None
    done: bool
    # Requests to read the job itself (webhook nudge, a status sweep that saw a change);
    # the poll that reads the job clears the count it saw, not later requests.
    refresh: str | None = None
    # Epoch ms when the status was last confirmed (a job read, or the jobs listing).
    status_at: int | None = None
    # `<ms>|<job JSON>` from the jobs listing, kept for a job's first poll (keys.listed).
    listed: str | None = None
    # The poll cadence model's state (service.models.cadence), as encoded.
    cadence: str | None = None


@dataclass(frozen=True)
class JobRead:
    """That a poll read the job itself: when, and the refresh count it saw before."""

    at_ms: int
    refresh: str | None = None


class LeaseLost(Exception):
    """Another replica owns the job now; it will fetch the same events itself."""


def _encode(snapshot: JobSnapshot) -> dict[str, str]:
    data = snapshot.model_dump(mode="json")
    out: dict[str, str] = {}
    for name, value in data.items():
        if value is None:
            continue
        out[name] = json.dumps(value) if name in _JSON_FIELDS else str(value)
    # model_dump(mode="json") turns NaN into None; metrics keep their non-finite values.
    out["metrics"] = json.dumps(snapshot.metrics)
    # Always written, even empty: a hash without it was stored before ftwatch had a lifecycle.
    out["raw_status"] = snapshot.raw_status or ""
    return out


def _decode(key: str, raw: dict[str, str]) -> JobSnapshot:
    """The snapshot stored under `key`; its identity is the key's, whatever the fields say."""
    fields: dict[str, object] = {k: v for k, v in raw.items() if k in _SNAPSHOT_FIELDS}
    for name in _JSON_FIELDS:
        if name in fields:
            fields[name] = json.loads(str(fields[name]))
    fields.pop("source", None)
    ref = JobRef.parse(key)
    fields["job_id"], fields["provider"] = ref.id, ref.provider
    if "raw_status" not in raw and "status" in raw:
        fields["raw_status"] = raw["status"]  # older versions kept OpenAI's status as it came
    fields["raw_status"] = fields.get("raw_status") or None
    return JobSnapshot.model_validate(fields)  # `status` is mapped on the way in


class ForeignEvent(ValueError):
    """An event of another job was offered for this job's stream entries."""


def _check_owner(snapshot: JobSnapshot, events: Sequence[NormalizedEvent]) -> None:
    # The invariant that keeps an ingested event from ever reaching a polled job's
    # rules (and two providers' same-id jobs apart): a job's entries are its own.
    for event in events:
        if event.key != snapshot.key:
            raise ForeignEvent(f"event of {event.key!r} offered to {snapshot.key!r}")


class JobStore:
    """Reads and writes job hashes; the one place that appends events to the stream."""

    def __init__(self, client: aioredis.Redis, scripts: Scripts, *, maxlen: int, window: int):
        self._redis = client
        self._scripts = scripts
        self._maxlen = maxlen
        self._window = window

    async def load(self, key: str) -> JobRecord:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.job(key))
            pipe.get(keys.listed(key))
            raw, listed = await pipe.execute()
        return JobRecord(
            snapshot=_decode(key, raw),
            cursor=raw.get("cursor") or None,
            done=raw.get("done") == "1",
            refresh=raw.get("refresh") or None,
            status_at=_int(raw.get("status_at")),
            listed=listed,
            cadence=raw.get(CADENCE_FIELD) or None,
        )

    async def append(
        self,
        snapshot: JobSnapshot,
        events: Sequence[NormalizedEvent],
        *,
        cursor: str | None,
        owner: str = "",
        read: JobRead | None = None,
        cadence: str | None = None,
    ) -> list[NormalizedEvent]:
        """Append the events not seen before, oldest first, with cursor and snapshot; atomic.

        `read` says the caller read the job itself (its status is confirmed fresh);
        `cadence` is the poll model's new state, written with the rest (lease-fenced).
        Returns the events that were new. Raises LeaseLost when `owner` lost the lease
        and ForeignEvent when an event belongs to another job.
        """
        _check_owner(snapshot, events)
        snapshot = snapshot.model_copy(update={"updated_at": time.time()})
        snap_fields = _encode(snapshot)
        if cadence is not None:
            snap_fields[CADENCE_FIELD] = cadence
        args: list[str | int] = [owner, self._maxlen, self._window, cursor or "", len(snap_fields)]
        args += ["", ""] if read is None else [read.at_ms, read.refresh or ""]
        for name, value in snap_fields.items():
            args += [name, value]
        key = snapshot.key
        for event in events:
            args += [event.event_id, event.model_dump_json()]
        args.append(key)
        added = await self._scripts.append_events(
            keys=[
                keys.events_stream(keys.partition(key)),
                keys.seen(key),
                keys.job(key),
                keys.lease(key),
            ],
            args=args,
        )
        if isinstance(added, int):
            raise LeaseLost(key)
        await self._redis.sadd(keys.jobs(keys.partition(key)), key)
        return [events[int(index)] for index in added]

    async def snapshots(self, job_keys: Sequence[str]) -> list[JobSnapshot]:
        """Snapshots of the given jobs in one round trip (missing jobs are skipped)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in job_keys:
                pipe.hgetall(keys.job(key))
            rows: list[dict[str, str]] = await pipe.execute()
        return [_decode(j, raw) for j, raw in zip(job_keys, rows, strict=True) if raw]

    async def snapshots_at(self, job_keys: Sequence[str]) -> list[tuple[JobSnapshot, int]]:
        """Each job's snapshot with the sequence number of its last appended event.

        Both come from one read of the job hash, which the append script writes in one
        step: the snapshot is exactly what the events up to that number showed.
        """
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in job_keys:
                pipe.hgetall(keys.job(key))
            rows: list[dict[str, str]] = await pipe.execute()
        return [
            (_decode(j, raw), int(raw.get("seq") or 0))
            for j, raw in zip(job_keys, rows, strict=True)
            if raw
        ]

    async def cadences(self, job_keys: Sequence[str]) -> list[str | None]:
        """Each job's stored cadence state (None: none yet), in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in job_keys:
                pipe.hget(keys.job(key), CADENCE_FIELD)
            found: list[str | None] = await pipe.execute()
        return found

    async def statuses(self, job_keys: Sequence[str]) -> list[Status]:
        """The last known lifecycle status of each job, in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in job_keys:
                pipe.hget(keys.job(key), "status")
            found: list[str | None] = await pipe.execute()
        return [recorded(s) for s in found]

    async def all_job_keys(self) -> list[str]:
        found: set[str] = set()
        for p in keys.partitions():
            members: Any = await self._redis.smembers(keys.jobs(p))
            found |= {str(m) for m in members}
        return sorted(found)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
