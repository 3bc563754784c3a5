"""Together AI (SPEC §4.3, providers.md §2): `/v1/fine-tunes...`, Bearer auth, no paging.

A poll costs two reads: the job's whole events listing (Together pages nothing) and the
metrics rows from the last global step seen, bounded to METRIC_STEPS steps a poll, so a
long job's series is never read again from the start. Cancel is the only action.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import structlog

from service.providers import together_wire as wire
from service.providers.base import Action, NewEvents, Unsupported
from service.providers.config import TogetherSpec
from service.upstream.client import Endpoint, UpstreamClient
from service.upstream.connection import Connection, bearer
from service.upstream.models import Checkpoint, Job, Page

log = structlog.get_logger(__name__)

# What Together cannot do, and why (for `supports`, audit records and `rules check`).
LACKING: Mapping[Action, str] = {
    "pause": "Together's API has no pause; cancel is its only control",
    "resume": "Together's API has no resume; a new job from a checkpoint is the way on",
}
# Global steps of metrics one poll reads at most; a job further ahead catches up over polls.
METRIC_STEPS = 1000
DEFAULT_URL = "https://api.together.ai/v1"


def api_root(url: str) -> str:
    """The API root: a bare host (TOGETHER_BASE_URL of SDK 3.x) gets `/v1`."""
    url = url.rstrip("/")
    return url if urlsplit(url).path else url + "/v1"


def connection(spec: TogetherSpec, environ: Mapping[str, str]) -> Connection:
    secret = environ.get(spec.api_key_env, "")
    url = spec.base_url or environ.get("TOGETHER_BASE_URL") or DEFAULT_URL
    return Connection(
        spec.name,
        api_root(url),
        secret,
        bearer(secret),
        key_env=spec.api_key_env,
        url_env=f"providers[{spec.name}].base_url",
        url_hint=DEFAULT_URL,
    )


def _path(job_id: str, suffix: str = "") -> str:
    if not job_id:
        raise ValueError("job_id must not be empty")
    return f"/fine-tunes/{quote(job_id, safe='')}{suffix}"  # quoted whole, as OpenAI's


class Together:
    """A Together AI account's fine-tuning jobs."""

    kind = wire.KIND

    def __init__(
        self,
        name: str,
        client: UpstreamClient,
        *,
        named_jobs: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name, self.client, self.named_jobs = name, client, tuple(named_jobs)
        self._clock = clock
        # The last whole listing, which `list_jobs` pages through (Together has no paging).
        self._listing: list[Job] = []
        self._position: dict[str, int] = {}

    @property
    def last_success_at(self) -> float | None:
        return self.client.last_success_at

    def supports(self, action: Action) -> str | None:
        return LACKING.get(action)

    async def _get(
        self, endpoint: Endpoint, path: str, parse: Callable[[Any], Any], **kw: Any
    ) -> Any:
        return await self.client.call(endpoint, "GET", path, parse, **kw)

    async def list_jobs(self, after: str | None, limit: int) -> Page[Job]:
        """Pages of one listing: the first page reads it, later ones slice the same one."""
        if after is None or after not in self._position:
            listing = await self._get("list_jobs", "/fine-tunes", wire.jobs_from)
            self._report(listing.rejected)
            self._listing = listing.jobs
            self._position = {job.id: i for i, job in enumerate(self._listing)}
        # An `after` gone from the listing ends the paging (no job is listed twice).
        start = 0 if after is None else self._position.get(after, len(self._listing) - 1) + 1
        page = self._listing[start : start + limit]
        return Page[Job](data=page, has_more=start + limit < len(self._listing))

    def _report(self, rejected: Sequence[str]) -> None:
        for error in rejected:
            log.warning(
                "job_rejected",
                provider=self.name,
                error=error,
                hint="Together listed a job ftwatch cannot read; it is skipped",
            )

    async def get_job(self, job_id: str) -> Job:
        job: Job = await self._get("get_job", _path(job_id), wire.job_from, job_id=job_id)
        return job

    async def new_events(self, job_id: str, cursor: str | None, last_new: int | None) -> NewEvents:
        """Unseen events, then unseen metrics rows; the cursor is the pair of positions."""
        at = wire.decode_cursor(cursor)
        events_path = _path(job_id, "/events")
        listed = await self._get("list_events", events_path, wire.events_listing, job_id=job_id)
        events = wire.new_events(listed, at)
        params = {"global_step_from": str(max(at.step, 0))}
        params["global_step_to"] = str(max(at.step, 0) + METRIC_STEPS)
        path = _path(job_id, "/metrics")
        rows = await self._get(
            "list_metrics", path, wire.metrics_listing, job_id=job_id, params=params
        )
        metrics = wire.new_metrics(rows, events.cursor, self._clock())
        return NewEvents(
            events=events.events + metrics.events,
            rejected=[*events.rejected, *metrics.rejected],
            newest_id=metrics.cursor.encode(),
            reached_cursor=True,
        )

    async def list_checkpoints(self, job_id: str, limit: int) -> Page[Checkpoint]:
        path = _path(job_id, "/checkpoints")
        found: list[Checkpoint] = await self._get(
            "list_checkpoints", path, lambda p: wire.checkpoints_from(job_id, p), job_id=job_id
        )
        return Page[Checkpoint](data=found[:limit], has_more=len(found) > limit)

    async def act(self, action: Action, job_id: str) -> Job:
        why = self.supports(action)
        if why is not None:
            raise Unsupported(self.name, self.kind, action, why)
        job: Job = await self.client.call(
            "cancel", "POST", _path(job_id, "/cancel"), wire.job_from, job_id=job_id
        )
        return job
