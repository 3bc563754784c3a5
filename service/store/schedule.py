"""The poll schedule: which job is due when, and which replica holds its lease."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from service.store import keys
from service.store.scripts import Scripts


def now_ms() -> int:
    return int(time.time() * 1000)


class Schedule:
    """Due times in a sorted set plus a lease per job, so one replica polls a job at a time."""

    def __init__(self, client: aioredis.Redis, scripts: Scripts, owner: str) -> None:
        self._redis = client
        self._scripts = scripts
        self.owner = owner
        self._turn = 0

    async def watch(self, job_ids: Sequence[str], *, due_ms: int | None = None) -> int:
        """Start watching jobs not yet watched (drained terminal jobs stay dropped)."""
        return await self._call_watch(job_ids, "add", due_ms)

    async def nudge(self, job_ids: Sequence[str]) -> int:
        """Make jobs due now (an inbound webhook said something happened)."""
        return await self._call_watch(job_ids, "nudge", 0)

    async def _call_watch(self, job_ids: Sequence[str], mode: str, due_ms: int | None) -> int:
        due = now_ms() if due_ms is None else due_ms
        changed = 0
        for p, ids in keys.by_partition(job_ids).items():
            changed += await self._scripts.watch_jobs(
                keys=[keys.schedule(p), keys.jobs(p), *(keys.job(j) for j in ids)],
                args=[due, mode, *ids],
            )
        return changed

    async def confirm_statuses(
        self, listed: Sequence[tuple[str, str, str]], *, keep_seconds: float = 90.0
    ) -> list[str]:
        """Fold `(job id, status, job JSON)` from the jobs listing into the watched jobs.

        Unchanged statuses are confirmed fresh; a changed one makes its job due now with
        a request to read the job itself; a job never polled keeps the listed job for
        `keep_seconds`, for its first poll. Returns the ids whose status changed.
        """
        ttl_ms = max(1, int(keep_seconds * 1000))
        rows = {job_id: (job_id, status, body) for job_id, status, body in listed}
        changed: list[str] = []
        for p, ids in keys.by_partition(list(rows)).items():
            job_keys = [k for j in ids for k in (keys.job(j), keys.listed(j))]
            args: list[str | int] = [now_ms(), ttl_ms, *(v for j in ids for v in rows[j])]
            found = await self._scripts.sweep_statuses(
                keys=[keys.schedule(p), *job_keys], args=args
            )
            changed += [str(j) for j in found]
        return changed

    async def claim(self, limit: int, lease_seconds: float) -> tuple[list[str], int]:
        """Claim up to `limit` due jobs; returns them and the claim time (ms)."""
        at = now_ms()
        claimed: list[str] = []
        for p in self._partition_order():
            if len(claimed) >= limit:
                break
            claimed += await self._claim(p, at, limit - len(claimed), lease_seconds)
        return claimed, at

    def _partition_order(self) -> list[int]:
        # Start at a different partition each claim, so a small `limit` serves every one.
        order = list(keys.partitions())
        self._turn = (self._turn + 1) % len(order)
        return order[self._turn :] + order[: self._turn]

    async def _claim(self, p: int, at: int, limit: int, lease_seconds: float) -> list[str]:
        """Read one partition's due jobs, then claim them in one script (which checks again)."""
        due: Any = await self._redis.zrangebyscore(keys.schedule(p), "-inf", at, 0, limit)
        if not due:
            return []
        ids = [str(j) for j in due]
        claimed = await self._scripts.claim_jobs(
            keys=[keys.schedule(p), *(keys.lease(j) for j in ids)],
            args=[at, int(lease_seconds * 1000), self.owner, *ids],
        )
        return [str(j) for j in claimed]

    async def release(self, job_id: str, next_due_ms: int | None, claimed_at: int) -> bool:
        """Schedule the next poll (None: drop the drained terminal job) and free the lease."""
        released = await self._scripts.release_job(
            keys=[keys.schedule(keys.partition(job_id)), keys.lease(job_id), keys.job(job_id)],
            args=[self.owner, job_id, "" if next_due_ms is None else next_due_ms, claimed_at],
        )
        return bool(released)

    async def next_due_ms(self) -> int | None:
        """When the earliest job falls due, or None when nothing is watched."""
        heads = []
        for p in keys.partitions():
            first = await self._redis.zrange(keys.schedule(p), 0, 0, withscores=True)
            heads += [int(first[0][1])] if first else []
        return min(heads) if heads else None

    async def watched_ids(self) -> list[str]:
        """Every job on the schedule (watched and not yet terminal)."""
        found: list[str] = []
        for p in keys.partitions():
            members: Any = await self._redis.zrange(keys.schedule(p), 0, -1)
            found += [str(m) for m in members]
        return found

    async def watched(self) -> int:
        return sum([int(await self._redis.zcard(keys.schedule(p))) for p in keys.partitions()])

    async def set_stretch(self, provider: str, factor: float, ttl_seconds: float) -> None:
        """Publish a provider's poll-delay factor (see cadence.provider_stretches)."""
        ttl = max(1, int(ttl_seconds))
        await self._redis.set(keys.poll_stretch(provider), repr(factor), ex=ttl)

    async def stretch(self, provider: str) -> float:
        """A provider's published poll-delay factor; 1 when none (no budget, or it expired)."""
        raw = await self._redis.get(keys.poll_stretch(provider))
        try:
            return max(1.0, float(raw)) if raw else 1.0
        except ValueError:
            return 1.0

    async def discovery_mark(self, provider: str) -> tuple[str, int] | None:
        """The newest job (id, created_at) the last sweep of `provider` listed; None: none yet."""
        found: Any = await self._redis.hmget(keys.discovery_mark(provider), ["id", "created_at"])
        job_id, created_at = found
        if job_id is None or created_at is None:
            return None
        try:
            return str(job_id), int(created_at)
        except ValueError:
            return None

    async def set_discovery_mark(self, provider: str, job_id: str, created_at: int) -> None:
        """Record the newest job a sweep of `provider` listed (see keys.discovery_mark)."""
        fields = ["id", job_id, "created_at", str(created_at)]
        await self._redis.hset(keys.discovery_mark(provider), items=fields)

    async def hold_discovery(self, provider: str, ttl_seconds: float) -> bool:
        """Take or extend a provider's discovery lease: one replica lists its jobs."""
        return await self.hold(keys.discovery_lease(provider), ttl_seconds)

    async def release_discovery(self, provider: str) -> bool:
        """Give up the discovery lease (shutdown): another replica sweeps at once."""
        return await self.release_lease(keys.discovery_lease(provider))

    async def release_lease(self, key: str) -> bool:
        """Free a lease taken with `hold`, if this replica still holds it."""
        released = await self._scripts.release_lease(keys=[key], args=[self.owner])
        return bool(released)

    async def extend(self, job_id: str, ttl_seconds: float) -> bool:
        """Extend our lease on a job during a long poll; False when it moved elsewhere."""
        return await self.hold(keys.lease(job_id), ttl_seconds)

    async def hold(self, key: str, ttl_seconds: float) -> bool:
        held = await self._scripts.hold_lease(
            keys=[key], args=[self.owner, int(ttl_seconds * 1000)]
        )
        return bool(held)
