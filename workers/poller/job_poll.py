"""Poll one job: read it, fetch the events after its cursor, append them once."""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog

from service.metrics import Metrics
from service.models.event import normalize
from service.store.jobs import JobStore
from service.upstream.client import EventPage, UpstreamClient
from workers.poller.selection import NewEvents, page_has_cursor, select_new
from workers.poller.snapshot import merge_snapshot
from workers.poller.status_change import status_change

log = structlog.get_logger(__name__)

# 100 is the page size the API accepts for events; 100 pages bound one poll at 10,000
# events, far above what a job emits between two polls (a step is seconds at least).
PAGE_LIMIT = 100
MAX_PAGES = 100


@dataclass(frozen=True)
class PollResult:
    """What one poll saw: the job's status and how many events were new."""

    status: str
    appended: int
    rejected: int


async def fetch_new(client: UpstreamClient, job_id: str, cursor: str | None) -> NewEvents:
    """Page back from the newest event until the cursor (or the oldest event)."""
    pages: list[EventPage] = []
    after: str | None = None
    for _ in range(MAX_PAGES):
        page = await client.list_events(job_id, after=after, limit=PAGE_LIMIT)
        pages.append(page)
        if page_has_cursor(page, cursor) or not page.has_more or page.last_id is None:
            break
        after = page.last_id
    found = select_new(pages, cursor)
    if cursor is not None and not found.reached_cursor and len(pages) == MAX_PAGES:
        log.warning(
            "event_gap",
            cursor=cursor,
            fetched=len(found.events),
            hint="more events than one poll may fetch; older ones are skipped",
        )
    return found


class JobPoller:
    """One job poll, with the job's snapshot and events written in one atomic step."""

    def __init__(self, client: UpstreamClient, store: JobStore, metrics: Metrics) -> None:
        self._client = client
        self._store = store
        self._metrics = metrics

    async def poll(self, job_id: str, owner: str) -> PollResult:
        """Poll `job_id` while holding its lease as `owner`; raises upstream/store errors."""
        record = await self._store.load(job_id)
        # The job first, its events second: when the job reads terminal, the events
        # listed after it include the last ones, so this poll is the final drain.
        job = await self._client.get_job(job_id)
        found = await fetch_new(self._client, job_id, record.cursor)
        self._report_rejected(job_id, found)
        events = [normalize(job, event) for event in found.events]
        change = status_change(job, record.snapshot, time.time())
        if change is not None:
            events.append(change)
        snapshot = merge_snapshot(record.snapshot, job, events)
        added = await self._store.append(
            snapshot, events, cursor=found.newest_id or record.cursor, owner=owner
        )
        for event in added:
            self._metrics.events_ingested.labels("openai", event.type).inc()
        self._metrics.observe_job(snapshot)
        if job.is_terminal:
            self._metrics.job_terminal(job_id)
        return PollResult(status=job.status, appended=len(added), rejected=len(found.rejected))

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
