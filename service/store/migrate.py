"""Data of the version before providers, renamed to job keys once (schema 2).

That version named a job's Redis keys by its bare id. On start, under a lock, every job in
`ftwatch:jobs` has its keys moved to `<provider>:<id>` (the provider its snapshot's
`source` names: `openai` or `ingest`), the schedule and jobs set are rewritten, then
`ftwatch:schema` is set to 2 so no start does it again. Each step is idempotent, so a crash
midway is finished by the next start. Stream entries of that version are read compatibly
instead (workers.rules.fold.entry_job).
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
import structlog

from service.models.ident import DEFAULT_PROVIDER, INGEST_PROVIDER, job_key
from service.store import keys

log = structlog.get_logger(__name__)

SCHEMA = "ftwatch:schema"
SCHEMA_VERSION = "2"
LOCK = "ftwatch:lock:migrate"
# Long enough for 100,000 jobs' renames; a crashed migrator's lock frees itself.
LOCK_SECONDS = 300
# Polls of the lock while another replica migrates: bounded wait, then start anyway
# (that replica finishes the work; reads meanwhile find renamed or old keys).
WAIT_POLLS = 600
WAIT_SECONDS = 0.5


def _per_job(job: str) -> list[str]:
    # The lease is left out: it only ever lives for one poll and expires by itself.
    return [
        keys.job(job),
        keys.seen(job),
        keys.listed(job),
        keys.rule_state(job),
        keys.job_actions(job),
    ]


async def migrate(client: aioredis.Redis, owner: str) -> int:
    """Bring old data to schema 2 if needed; returns how many jobs were renamed."""
    if await client.get(SCHEMA) == SCHEMA_VERSION:
        return 0
    for _ in range(WAIT_POLLS):
        if await client.set(LOCK, owner, nx=True, ex=LOCK_SECONDS):
            try:
                return await _migrate_locked(client)
            finally:
                await client.delete(LOCK)
        if await client.get(SCHEMA) == SCHEMA_VERSION:
            return 0
        await asyncio.sleep(WAIT_SECONDS)  # another replica migrates: a bounded wait
    log.warning("migration_wait_gave_up", hint="another replica is still migrating")
    return 0


async def _migrate_locked(client: aioredis.Redis) -> int:
    members: Any = await client.smembers(keys.JOBS)
    moved = 0
    for member in sorted(members):
        # A snapshot this version wrote (or moved) has a `provider` field; the previous
        # version's have `source`. So a rerun after a crash, or a start that could not
        # migrate and wrote new jobs meanwhile, never renames a key twice.
        if not await client.hexists(keys.job(member), "provider"):
            await _move_job(client, member)
            moved += 1
    await client.set(SCHEMA, SCHEMA_VERSION)
    if moved:
        log.info("data_migrated", jobs=moved, schema=SCHEMA_VERSION)
    return moved


async def _provider_of(client: aioredis.Redis, job_id: str) -> str:
    source = await client.hget(keys.job(job_id), "source")
    if source is None:  # moved before a crash: the new hash tells
        moved = await client.exists(keys.job(job_key(INGEST_PROVIDER, job_id)))
        return INGEST_PROVIDER if moved else DEFAULT_PROVIDER
    return INGEST_PROVIDER if source == INGEST_PROVIDER else DEFAULT_PROVIDER


async def _move_job(client: aioredis.Redis, job_id: str) -> None:
    """Every step idempotent: a rerun after a crash finishes the job's move."""
    provider = await _provider_of(client, job_id)
    key = job_key(provider, job_id)
    for old_key, new_key in zip(_per_job(job_id), _per_job(key), strict=True):
        await _move_key(client, old_key, new_key)
    if await client.exists(keys.job(key)):
        await client.hset(keys.job(key), "provider", provider)
    due = await client.zscore(keys.SCHEDULE, job_id)
    if due is not None:
        await client.zadd(keys.SCHEDULE, {key: due})
        await client.zrem(keys.SCHEDULE, job_id)
    await client.sadd(keys.JOBS, key)
    await client.srem(keys.JOBS, job_id)


async def _move_key(client: aioredis.Redis, old: str, new: str) -> None:
    # DUMP/RESTORE, not RENAME: in a Redis Cluster the two names hash to different slots.
    payload = await client.dump(old)
    if payload is None:
        return
    ttl = await client.pttl(old)
    await client.restore(new, max(ttl, 0), payload, replace=True)
    await client.delete(old)
