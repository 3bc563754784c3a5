"""GET /v1/jobs, /v1/jobs/{job_id} and /v1/jobs/{job_id}/events."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from service import keys
from service.api.errors import ApiError
from service.api.routing import Routes
from service.api.schemas import (
    DecisionView,
    EventEntry,
    EventPage,
    EventView,
    JobId,
    JobList,
    JobsQuery,
    JobView,
    PageQuery,
    view_of,
)
from service.models.ident import INGEST_PROVIDER, PROVIDER_NAME, job_key
from service.models.job import JobSnapshot
from service.models.times import iso_time
from service.store import job_reads

routes = Routes("jobs")

# Snapshots read per round trip while filtering the job list.
CHUNK = 200
# At most this many snapshots (jobs) or stream entries (events) are examined per request;
# past that the page ends early with a cursor, so a rare filter never times out.
MAX_SCAN_JOBS = 5_000
MAX_SCAN_EVENTS = 10_000


def _matches(snapshot: JobSnapshot, query: JobsQuery) -> bool:
    if query.status and snapshot.status not in query.status:
        return False
    wanted = query.provider or query.source
    if wanted and snapshot.provider != wanted:
        return False
    for pair in query.metadata:
        key, _, value = pair.partition("=")
        if snapshot.metadata.get(key) != value:
            return False
    return True


async def _views(request: web.Request, snapshots: Sequence[JobSnapshot]) -> list[JobView]:
    redis = request.app[keys.REDIS]
    ids = [s.key for s in snapshots]
    states = await job_reads.rule_states(redis, ids)
    plans = await job_reads.poll_plans(redis, ids)
    ingested = [s.key for s in snapshots if s.provider == INGEST_PROVIDER]
    found = await request.app[keys.DECISIONS].pending_many(ingested)
    pending = dict(zip(ingested, found, strict=True))
    return [
        JobView(
            **s.model_dump(),
            watched=due is not None,
            rules={name: iso_times(state) for name, state in r.items()},
            next_poll_at=due,
            next_event_at=at,
            decisions=[view_of(DecisionView, d) for d in pending.get(s.key, [])],
        )
        for s, (due, at), r in zip(snapshots, plans, states, strict=True)
    ]


def iso_times(state: Any) -> Any:
    """A stored rule state with its times (`*_at`, `*_until`, `since`) as ISO-8601."""
    if not isinstance(state, dict):
        return state
    return {key: _iso_field(key, value) for key, value in state.items()}


def _iso_field(key: str, value: Any) -> Any:
    if isinstance(value, dict):
        return iso_times(value)
    timed = key.endswith(("_at", "_until")) or key == "since"
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return iso_time(value) if timed and number else value


@routes.get("/v1/jobs", "List jobs (filter by status, provider and metadata; paged)")
async def list_jobs(request: web.Request, query: JobsQuery) -> JobList:
    """Jobs in `<provider>:<id>` order. Each page examines at most 5,000 jobs; follow
    `next_cursor`."""
    store = request.app[keys.JOBS]
    ids = await store.all_job_keys()
    rest = ids[bisect_right(ids, query.cursor) :] if query.cursor else ids
    picked: list[JobSnapshot] = []
    last_seen: str | None = None
    for start in range(0, min(len(rest), MAX_SCAN_JOBS), CHUNK):
        chunk = rest[start : min(start + CHUNK, MAX_SCAN_JOBS)]
        for snapshot in await store.snapshots(chunk):
            last_seen = snapshot.key
            if _matches(snapshot, query):
                picked.append(snapshot)
                if len(picked) == query.limit:
                    return JobList(data=await _views(request, picked), next_cursor=last_seen)
        last_seen = chunk[-1]
    more = len(rest) > MAX_SCAN_JOBS
    return JobList(data=await _views(request, picked), next_cursor=last_seen if more else None)


def _candidates(app: web.Application, given: str) -> tuple[str | None, list[str]]:
    """The key `given` spells out (`<provider>:<id>`), if any; and the keys a bare id has."""
    names = [spec.name for spec in app[keys.RULES].providers] + [INGEST_PROVIDER]
    bare = [job_key(name, given) for name in names]
    provider, sep, _ = given.partition(":")
    explicit = given if sep and PROVIDER_NAME.fullmatch(provider) else None
    return explicit, bare


async def load_snapshot(request: web.Request, given: str) -> JobSnapshot:
    """The job `given` names: `<provider>:<id>`, or an id only one provider has (SPEC §7)."""
    store = request.app[keys.JOBS]
    explicit, bare = _candidates(request.app, given)
    if explicit is not None:
        found = await store.snapshots([explicit])
        if found:
            return found[0]
    found = await store.snapshots(bare)
    if len(found) > 1:
        names = ", ".join(f"{s.provider}:{s.job_id}" for s in found)
        raise ApiError(
            409, "ambiguous_job", f"several providers have a job {given!r}: use one of {names}"
        )
    if not found:
        raise ApiError(404, "job_not_found", f"ftwatch knows no job {given!r}")
    return found[0]


_AMBIGUOUS = {409: ("Several providers have a job of this id; name it `<provider>:<id>`.", None)}


@routes.get(
    "/v1/jobs/{job_id}",
    "One job: status, step, latest metrics, rule states",
    responses=_AMBIGUOUS,
)
async def get_job(request: web.Request, job_id: JobId) -> JobView:
    views = await _views(request, [await load_snapshot(request, job_id)])
    return views[0]


@routes.get("/v1/jobs/{job_id}/events", "A job's events, newest first", responses=_AMBIGUOUS)
async def job_events(request: web.Request, job_id: JobId, query: PageQuery) -> EventPage:
    """Read from the shared event stream, which keeps the newest ~200,000 events of all
    jobs. A page scans at most 10,000 stream entries; follow `next_cursor` for more."""
    snapshot = await load_snapshot(request, job_id)
    page = await job_reads.job_events(
        request.app[keys.REDIS],
        snapshot.key,
        before=query.cursor,
        limit=query.limit,
        max_scan=MAX_SCAN_EVENTS,
    )
    entries = [EventEntry(id=i, event=view_of(EventView, e)) for i, e in page.items]
    return EventPage(data=entries, next_cursor=page.next_cursor)
