"""OpenAI's fine-tuning API (SPEC §4.1), and every upstream that speaks it (Azure, §4.2).

Events are listed newest first and `after` pages to OLDER ones, with no cursor for
"newer than": a poll pages back from the newest event until it meets the last one it
stored, and orders by list position (ids are not sortable, `created_at` repeats).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import structlog

from service.providers.base import Action, NewEvents, Unsupported
from service.upstream.client import EventPage, UpstreamClient
from service.upstream.models import Checkpoint, Job, Page
from service.upstream.selection import page_has_cursor, select_new

log = structlog.get_logger(__name__)

# 100 pages (of up to 100 events) bound one poll at 10,000 events, far above what a job
# emits between two polls (a step is seconds at least).
MAX_PAGES = 100
# Upstream's page cap; the first page of a poll asks for fewer (see first_page_limit).
MAX_LIMIT = 100
MIN_FIRST_LIMIT = 10


def first_page_limit(cursor: str | None, last_new: int | None) -> int:
    """Events to ask for on the first page: twice what the last poll found, plus slack.

    Most polls find a handful of events; listing 100 to keep 5 costs upstream, network
    and parsing. A job with more pages back with full pages, so nothing is missed.
    """
    if cursor is None or last_new is None:
        return MAX_LIMIT
    return max(MIN_FIRST_LIMIT, min(MAX_LIMIT, 2 * last_new + 5))


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


class OpenAICompatible:
    """A provider speaking OpenAI's fine-tuning API through one UpstreamClient."""

    def __init__(
        self,
        name: str,
        client: UpstreamClient,
        *,
        kind: str = "openai",
        lacking: Mapping[Action, str] | None = None,
        named_jobs: Sequence[str] = (),
    ) -> None:
        self.name, self.kind = name, kind
        self.client = client
        self.named_jobs = tuple(named_jobs)
        # Actions this account's API version does not have, with the reason.
        self._lacking = dict(lacking or {})

    @property
    def last_success_at(self) -> float | None:
        return self.client.last_success_at

    def supports(self, action: Action) -> str | None:
        return self._lacking.get(action)

    async def list_jobs(self, after: str | None, limit: int) -> Page[Job]:
        return await self.client.list_jobs(after=after, limit=limit)

    async def get_job(self, job_id: str) -> Job:
        return await self.client.get_job(job_id)

    async def new_events(self, job_id: str, cursor: str | None, last_new: int | None) -> NewEvents:
        first = first_page_limit(cursor, last_new)
        return await fetch_new(self.client, job_id, cursor, first)

    async def list_checkpoints(self, job_id: str, limit: int) -> Page[Checkpoint]:
        return await self.client.list_checkpoints(job_id, limit=limit)

    async def act(self, action: Action, job_id: str) -> Job:
        why = self.supports(action)
        if why is not None:
            raise Unsupported(self.name, self.kind, action, why)
        calls = {"pause": self.client.pause, "resume": self.client.resume}
        return await calls.get(action, self.client.cancel)(job_id)
