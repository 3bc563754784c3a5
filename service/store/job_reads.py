"""Read-only views of jobs for the API: rule states, watch state, a job's events."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
import structlog
from pydantic import ValidationError

from service.models import cadence
from service.models.event import NormalizedEvent
from service.store import keys
from service.store.jobs import CADENCE_FIELD
from service.store.stream_scan import ScanPage, scan_back

log = structlog.get_logger(__name__)

EVENT_FIELD = "e"


def _state(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # shown as stored rather than hidden


async def rule_states(client: aioredis.Redis, job_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Per job, `{rule name: state}` from `ftwatch:rules:{job}` (bookkeeping fields left out)."""
    async with client.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hgetall(keys.rule_state(job_id))
        rows: list[dict[str, str]] = await pipe.execute()
    return [
        {name: _state(value) for name, value in row.items() if not name.startswith("_")}
        for row in rows
    ]


async def poll_plans(
    client: aioredis.Redis, job_ids: Sequence[str]
) -> list[tuple[float | None, float | None]]:
    """Per job: when its next poll is due and when its cadence expects the next event (s)."""
    if not job_ids:
        return []
    async with client.pipeline(transaction=False) as pipe:
        # ZSCORE per job, not one ZMSCORE: on a cluster the jobs' schedules are partitions'.
        for job_id in job_ids:
            pipe.zscore(keys.schedule(keys.partition(job_id)), job_id)
        for job_id in job_ids:
            pipe.hget(keys.job(job_id), CADENCE_FIELD)
        replies = await pipe.execute()
    scores, states = replies[: len(job_ids)], replies[len(job_ids) :]
    return [
        (None if score is None else score / 1000, cadence.decode(state).expect_at)
        for score, state in zip(scores, states, strict=True)
    ]


async def job_exists(client: aioredis.Redis, job_id: str) -> bool:
    return bool(await client.exists(keys.job(job_id)))


def _event_parser(key: str) -> Callable[[str, dict[str, str]], NormalizedEvent | None]:
    def parse(entry_id: str, fields: dict[str, str]) -> NormalizedEvent | None:
        raw = fields.get(EVENT_FIELD)
        if raw is None:
            return None
        try:
            event = NormalizedEvent.model_validate_json(raw)
        except ValidationError:
            log.warning("event_entry_unreadable", entry_id=entry_id)
            return None
        return event if event.key == key else None

    return parse


async def job_events(
    client: aioredis.Redis, key: str, *, before: str | None, limit: int, max_scan: int
) -> ScanPage[NormalizedEvent]:
    """The job's (by key) events on `ftwatch:events`, newest first, scanning at most `max_scan`."""
    return await scan_back(
        client,
        keys.events_stream(keys.partition(key)),
        _event_parser(key),
        before=before,
        limit=limit,
        max_scan=max_scan,
    )
