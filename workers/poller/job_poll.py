"""Poll one job: fetch the events after its cursor (reading the job when needed), append once.

Ordering guarantee for the final drain: a job is dropped (terminal) only after an events
listing that started after a read of the job said it was terminal, so every event the job
emitted before finishing is appended first. A poll that reads the job first gets this by
order; a poll that reads it only because its events hinted at a change lists once more.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import structlog

from service.metrics import Metrics
from service.models import cadence
from service.models.cadence import Cadence
from service.models.ident import JobRef
from service.models.job import JobSnapshot
from service.models.lifecycle import Status, is_running
from service.providers.base import NewEvents, Provider
from service.providers.registry import Providers
from service.store.jobs import JobRead, JobRecord, JobStore
from service.upstream.models import Job
from service.upstream.normalize import normalize
from workers.poller.freshness import hints_change, job_of, listed_job, needs_job
from workers.poller.snapshot import merge_snapshot
from workers.poller.status_change import status_change

log = structlog.get_logger(__name__)

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
    cadence: Cadence = field(default_factory=Cadence)  # the job's cadence after this poll


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
        providers: Providers,
        store: JobStore,
        metrics: Metrics,
        *,
        stale_after: float = 90.0,
    ) -> None:
        self._providers = providers
        self._store = store
        self._metrics = metrics
        self._stale_ms = int(stale_after * 1000)
        self._last_new: dict[str, int] = {}

    async def poll(self, key: str, owner: str) -> PollResult:
        """Poll the job `key` while holding its lease as `owner`; raises upstream/store errors."""
        ref = JobRef.parse(key)
        provider = self._providers[ref.provider]
        record = await self._store.load(key)
        at = time.time()  # before the listing: what it shows was visible by then
        seen = await self._read(provider, ref.id, record)
        found = seen.found
        self._report_rejected(provider.name, ref.id, found)
        job = seen.job or job_of(record.snapshot, provider.kind)
        events = [normalize(job, event, provider.name) for event in found.events]
        change = status_change(job, record.snapshot, time.time())
        if change is not None:
            events.append(change)
        snapshot = merge_snapshot(record.snapshot, job, events)
        pace, outcome = _cadence(record, seen, snapshot, at)
        added = await self._store.append(
            snapshot,
            events,
            cursor=found.newest_id or record.cursor,
            owner=owner,
            read=seen.read,
            cadence=pace.encode(),
        )
        if outcome is not None:
            self._metrics.poll_predictions.labels(outcome).inc()
        self._remember(key, len(found.events), job.is_terminal)
        for event in added:
            self._metrics.events_ingested.labels(provider.name, event.type).inc()
        self._metrics.observe_job(snapshot)
        if job.is_terminal:
            self._metrics.job_terminal(snapshot.ref)
        return PollResult(
            status=snapshot.status,
            appended=len(added),
            rejected=len(found.rejected),
            read_job=seen.job is not None,
            cadence=pace,
        )

    async def _read(self, provider: Provider, job_id: str, record: JobRecord) -> _Seen:
        """The upstream reads of one poll: events, and the job when it may have changed."""
        last_new = self._last_new.get(record.snapshot.key)
        if needs_job(record, _now_ms(), self._stale_ms):
            # The job first, its events second: when the job reads terminal, the events
            # listed after it include the last ones, so this poll is the final drain.
            job, read = await self._read_job(provider, job_id, record)
            found = await provider.new_events(job_id, record.cursor, last_new)
            return _Seen(found, job, read)
        found = await provider.new_events(job_id, record.cursor, last_new)
        if not hints_change(found.events):
            return _Seen(found)
        job, read = await self._read_job(provider, job_id, record)
        if job.is_terminal:  # list again after the read: that listing is the final drain
            cursor = found.newest_id or record.cursor
            found = _then(found, await provider.new_events(job_id, cursor, None))
        return _Seen(found, job, read)

    async def _read_job(
        self, provider: Provider, job_id: str, record: JobRecord
    ) -> tuple[Job, JobRead]:
        listed = listed_job(record, _now_ms(), self._stale_ms)
        if listed is not None:  # the status sweep read it moments ago
            return listed[0], JobRead(at_ms=listed[1])
        read = JobRead(at_ms=_now_ms(), refresh=record.refresh)
        return await provider.get_job(job_id), read

    def _remember(self, key: str, new: int, terminal: bool) -> None:
        if terminal:
            self._last_new.pop(key, None)
            return
        if len(self._last_new) >= MAX_REMEMBERED:
            self._last_new.clear()
        self._last_new[key] = new

    def _report_rejected(self, provider: str, job_id: str, found: NewEvents) -> None:
        for item in found.rejected:
            self._metrics.events_rejected.labels(provider, "malformed").inc()
            log.warning(
                "event_rejected",
                provider=provider,
                job_id=job_id,
                event_id=item.id,
                error=item.error,
                hint="the upstream sent an event ftwatch cannot read; it is skipped",
            )


def _cadence(
    record: JobRecord, seen: _Seen, snapshot: JobSnapshot, at: float
) -> tuple[Cadence, cadence.Outcome | None]:
    """The job's cadence after this poll, and the outcome of the prediction it settled."""
    state = cadence.decode(record.cadence)
    prior = None
    if seen.job is not None:  # a provider's hint, when the poll read the job
        remaining = seen.job.remaining_at(at)
        prior = cadence.prior_gap(remaining, snapshot.step, snapshot.total_steps)
    created = [event.created_at for event in seen.found.events]
    state, outcome = cadence.observe(state, at, created, prior=prior)
    if not is_running(snapshot.status):
        return cadence.suspend(state), None
    return state, outcome


def _now_ms() -> int:
    return int(time.time() * 1000)
