"""Poll one job: fetch the events after its cursor (reading the job when needed), append once.

Ordering guarantee for the final drain: a job is dropped (terminal) only after an events
listing that started after a read of the job said it was terminal, so every event the job
emitted before finishing is appended first. A poll that reads the job first gets this by
order; a poll that reads it only because its events hinted at a change lists once more.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog

from service.metrics import Metrics
from service.models.event import normalize
from service.models.lifecycle import Status
from service.store.jobs import JobRead, JobRecord, JobStore
from service.upstream.client import EventPage, UpstreamClient
from service.upstream.models import Job
from workers.poller.freshness import (
    MAX_LIMIT,
    first_page_limit,
    hints_change,
    job_of,
    listed_job,
    needs_job,
)
from workers.poller.selection import NewEvents, page_has_cursor, select_new
from workers.poller.snapshot import merge_snapshot
from workers.poller.status_change import status_change

log = structlog.get_logger(__name__)

# 100 pages (of up to 100 events) bound one poll at 10,000 events, far above what a job
# emits between two polls (a step is seconds at least).
MAX_PAGES = 100
# Jobs whose new-event counts this replica remembers (to size first pages); beyond it the
# memory starts over, which only costs full first pages for a while.
MAX_REMEMBERED = 100_000


@dataclass(frozen=True)
class PollResult:
    """What one poll saw: the job's lifecycle status and how many events were new."""

    status: Status
    appended: int
    rejected: int
    read_job: bool = False


async def fetch_new(
    client: UpstreamClient, job_id: str, cursor: str | None, first_limit: int = MAX_LIMIT
) -> NewEvents:
    """Page back from the newest event until the cursor (or the oldest event)."""
    pages: list[EventPage] = []
    after: str | None = None
    limit = first_limit
    for _ in range(MAX_PAGES):
        page = await client.list_events(job_id, after=after, limit=limit)
        pages.append(page)
        if page_has_cursor(page, cursor) or not page.has_more or page.last_id is None:
            break
        after, limit = page.last_id, MAX_LIMIT
    found = select_new(pages, cursor)
    if cursor is not None and not found.reached_cursor and len(pages) == MAX_PAGES:
        log.warning(
            "event_gap",
            cursor=cursor,
            fetched=len(found.events),
            hint="more events than one poll may fetch; older ones are skipped",
        )
    return found


def _then(first: NewEvents, later: NewEvents) -> NewEvents:
    """Events of two listings in a row, oldest first (the append drops repeats by id)."""
    return NewEvents(
        events=first.events + later.events,
        rejected=first.rejected + later.rejected,
        newest_id=later.newest_id or first.newest_id,
        reached_cursor=first.reached_cursor,
    )


@dataclass
class _Seen:
    """What one poll read: the job (if it read it) and the new events."""

    found: NewEvents
    job: Job | None = None
    read: JobRead | None = None


class JobPoller:
    """One job poll, with the job's snapshot and events written in one atomic step."""

    def __init__(
        self,
        client: UpstreamClient,
        store: JobStore,
        metrics: Metrics,
        *,
        stale_after: float = 90.0,
    ) -> None:
        self._client = client
        self._store = store
        self._metrics = metrics
        self._stale_ms = int(stale_after * 1000)
        self._last_new: dict[str, int] = {}

    async def poll(self, job_id: str, owner: str) -> PollResult:
        """Poll `job_id` while holding its lease as `owner`; raises upstream/store errors."""
        record = await self._store.load(job_id)
        seen = await self._read(job_id, record)
        found = seen.found
        self._report_rejected(job_id, found)
        job = seen.job or job_of(record.snapshot)
        events = [normalize(job, event) for event in found.events]
        change = status_change(job, record.snapshot, time.time())
        if change is not None:
            events.append(change)
        snapshot = merge_snapshot(record.snapshot, job, events)
        added = await self._store.append(
            snapshot,
            events,
            cursor=found.newest_id or record.cursor,
            owner=owner,
            read=seen.read,
        )
        self._remember(job_id, len(found.events), job.is_terminal)
        for event in added:
            self._metrics.events_ingested.labels("openai", event.type).inc()
        self._metrics.observe_job(snapshot)
        if job.is_terminal:
            self._metrics.job_terminal(job_id)
        return PollResult(
            status=snapshot.status,
            appended=len(added),
            rejected=len(found.rejected),
            read_job=seen.job is not None,
        )

    async def _read(self, job_id: str, record: JobRecord) -> _Seen:
        """The upstream reads of one poll: events, and the job when it may have changed."""
        first = first_page_limit(record.cursor, self._last_new.get(job_id))
        if needs_job(record, _now_ms(), self._stale_ms):
            # The job first, its events second: when the job reads terminal, the events
            # listed after it include the last ones, so this poll is the final drain.
            job, read = await self._read_job(job_id, record)
            return _Seen(await fetch_new(self._client, job_id, record.cursor, first), job, read)
        found = await fetch_new(self._client, job_id, record.cursor, first)
        if not hints_change(found.events):
            return _Seen(found)
        job, read = await self._read_job(job_id, record)
        if job.is_terminal:  # list again after the read: that listing is the final drain
            cursor = found.newest_id or record.cursor
            found = _then(found, await fetch_new(self._client, job_id, cursor, MAX_LIMIT))
        return _Seen(found, job, read)

    async def _read_job(self, job_id: str, record: JobRecord) -> tuple[Job, JobRead]:
        listed = listed_job(record, _now_ms(), self._stale_ms)
        if listed is not None:  # the status sweep read it moments ago
            return listed[0], JobRead(at_ms=listed[1])
        read = JobRead(at_ms=_now_ms(), refresh=record.refresh)
        return await self._client.get_job(job_id), read

    def _remember(self, job_id: str, new: int, terminal: bool) -> None:
        if terminal:
            self._last_new.pop(job_id, None)
            return
        if len(self._last_new) >= MAX_REMEMBERED:
            self._last_new.clear()
        self._last_new[job_id] = new

    def _report_rejected(self, job_id: str, found: NewEvents) -> None:
        for item in found.rejected:
            self._metrics.events_rejected.labels("openai", "malformed").inc()
            log.warning(
                "event_rejected",
                job_id=job_id,
                event_id=item.id,
                error=item.error,
                hint="the upstream sent an event ftwatch cannot read; it is skipped",
            )


def _now_ms() -> int:
    return int(time.time() * 1000)
