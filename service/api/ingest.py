"""POST /v1/ingest/events: self-hosted trainers push events onto the same stream as polls.

Idempotent by (job, event id) within the store's window of recent ids per job (512 by
default, above the batch limit), so a retried batch is stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence

import structlog
from aiohttp import web

from service import keys
from service.api.ingest_fold import ingest_key, new_snapshot, status_change
from service.api.ingest_schema import IngestBatch, IngestEvent, IngestResult
from service.api.ingest_slices import fold_sliced, parse_batch
from service.api.routing import Routes, required_json
from service.api.schemas import DecisionView, view_of
from service.models.event import STATUS_EVENT, NormalizedEvent
from service.models.ident import INGEST_PROVIDER
from service.models.job import JobSnapshot
from service.models.lifecycle import Status

log = structlog.get_logger(__name__)
routes = Routes("ingest")


class JobLocks:
    """One lock per job, held while its snapshot is read, folded and written back.

    This keeps one process's concurrent batches for a job from losing each other's
    snapshot updates; the events themselves are never lost either way.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, job_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(job_id, (asyncio.Lock(), 0))
        self._locks[job_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[job_id]
            if users == 1:
                del self._locks[job_id]
            else:
                self._locks[job_id] = (lock, users - 1)


LOCKS = web.AppKey("ingest_locks", JobLocks)


def _by_job(events: Sequence[IngestEvent]) -> dict[str, list[IngestEvent]]:
    groups: dict[str, list[IngestEvent]] = {}
    for event in events:
        groups.setdefault(event.job_id, []).append(event)
    return groups


async def _append(request: web.Request, job_id: str, items: list[IngestEvent]) -> int:
    """Fold and append one job's events; returns how many were new."""
    store = request.app[keys.JOBS]
    key = ingest_key(job_id)
    async with request.app[LOCKS].hold(key):
        found = await store.snapshots([key])
        previous = found[0] if found else new_snapshot(job_id)
        snapshot, events = await fold_sliced(previous, items)
        added = await store.append(snapshot, events, cursor=None)
    _observe(request, snapshot, added)
    return sum(1 for event in added if event.type != STATUS_EVENT)  # not ftwatch's own


async def set_status(
    request: web.Request, snapshot: JobSnapshot, status: Status, *, event_id: str, why: str
) -> JobSnapshot:
    """Move an ingested job to `status` (a trainer's ack), with the `status` event the
    rules see; `event_id` makes a repeat append nothing."""
    store = request.app[keys.JOBS]
    async with request.app[LOCKS].hold(snapshot.key):
        found = await store.snapshots([snapshot.key])
        previous = found[0] if found else snapshot
        if previous.status == status or previous.is_terminal:
            return previous
        changed, event = status_change(
            previous, status, event_id=event_id, now=time.time(), why=why
        )
        added = await store.append(changed, [event], cursor=None)
    _observe(request, changed, added)
    return changed


def _observe(request: web.Request, snapshot: JobSnapshot, added: list[NormalizedEvent]) -> None:
    metrics = request.app[keys.METRICS]
    for event in added:
        metrics.events_ingested.labels(INGEST_PROVIDER, event.type).inc()
    metrics.observe_job(snapshot)
    if snapshot.is_terminal:
        metrics.job_terminal(snapshot.ref)


@routes.post(
    "/v1/ingest/events",
    "Push events of self-hosted jobs (at most 500 per batch)",
    auth=True,
    doc_body=IngestBatch,
    ingest=True,
)
async def ingest_events(request: web.Request, body: str) -> IngestResult:
    """The jobs are the `ingest` provider's (`ingest:<job_id>`), apart from any polled job
    of the same id; every rule applies to their events as to polled ones. The whole batch is refused
    when one event is invalid (422 names `events[i].field`); a repeated event id is
    stored once, so a failed batch can simply be sent again. The reply carries the
    pending decisions of the batch's jobs (a rule's pause or cancel for the trainer to act
    on and ack). Accepts FTWATCH_INGEST_TOKEN as well as FTWATCH_API_TOKEN."""
    batch = await parse_batch(required_json(body))  # in slices: a big batch is CPU work
    groups = _by_job(batch.events)
    accepted = 0
    for job_id, items in groups.items():
        accepted += await _append(request, job_id, items)
    duplicates = len(batch.events) - accepted
    log.info("events_ingested", accepted=accepted, duplicates=duplicates, jobs=len(groups))
    pending = await request.app[keys.DECISIONS].pending_many([ingest_key(j) for j in groups])
    return IngestResult(
        accepted=accepted,
        duplicates=duplicates,
        jobs=list(groups),
        decisions=[view_of(DecisionView, d) for found in pending for d in found],
    )
