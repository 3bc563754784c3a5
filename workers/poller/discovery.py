"""The jobs sweep: list the account's jobs (newest first) to find new ones and to confirm
every watched job's status, so regular polls need only the job's events.

One listing page carries 100 jobs' statuses: at 10,000 watched jobs a sweep costs 100
requests, against 10,000 if each poll read its job. Watched jobs whose listed status
differs from the stored one are made due now with a request to read the job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from service.models.ident import job_key
from service.providers.base import Job, Provider
from service.settings import Settings
from service.store.schedule import Schedule

# Statuses are folded into the schedule one listing page at a time.
BATCH = 100
# 100 pages of 100: the account's 10,000 newest jobs (iter_jobs' bound too).
MAX_PAGES = 100


@dataclass
class Sweep:
    """What one sweep did: jobs newly watched, watched jobs whose status changed."""

    added: int = 0
    changed: list[str] = field(default_factory=list)
    listed: int = 0


class _Fold:
    """Buffers listed jobs and folds them into the schedule a page at a time."""

    def __init__(
        self, provider: str, schedule: Schedule, discovering: bool, keep_seconds: float
    ) -> None:
        self._provider = provider
        self._schedule = schedule
        self._discovering = discovering
        self._keep = keep_seconds
        self._jobs: list[Job] = []
        self.sweep = Sweep()

    async def add(self, job: Job) -> None:
        self._jobs.append(job)
        self.sweep.listed += 1
        if len(self._jobs) >= BATCH:
            await self.flush()

    async def flush(self) -> None:
        jobs, self._jobs = self._jobs, []
        name = self._provider
        if self._discovering:
            found = [job_key(name, job.id) for job in jobs if not job.is_terminal]
            self.sweep.added += await self._schedule.watch(found)
        listed = [(job_key(name, j.id), j.status, j.model_dump_json()) for j in jobs]
        changed = await self._schedule.confirm_statuses(listed, keep_seconds=self._keep)
        self.sweep.changed += changed


async def discover(provider: Provider, schedule: Schedule, settings: Settings) -> Sweep:
    """Watch a provider's new jobs (its named ones, or every non-terminal one listed) and
    sweep their statuses.

    With named jobs the listing stops as soon as every named job still watched was seen.
    """
    named = list(provider.named_jobs)
    # The listed job serves a first poll for as long as a status counts as fresh.
    keep = 3 * settings.discovery_interval + settings.poll_interval
    fold = _Fold(provider.name, schedule, discovering=not named, keep_seconds=keep)
    wanted: set[str] = set()
    if named:
        fold.sweep.added = await schedule.watch([job_key(provider.name, j) for j in named])
        prefix = job_key(provider.name, "")
        watched = await schedule.watched_ids()
        wanted = {k.removeprefix(prefix) for k in watched if k.startswith(prefix)} & set(named)
        if not wanted:
            return fold.sweep
    after: str | None = None
    for _ in range(MAX_PAGES):
        page = await provider.list_jobs(after=after, limit=BATCH)
        for job in page.data:
            if not named or job.id in wanted:
                await fold.add(job)
                wanted.discard(job.id)
        # A cursor that does not move would loop forever: stop as if at the end.
        if (named and not wanted) or not page.has_more or not page.data:
            break
        if page.data[-1].id == after:
            break
        after = page.data[-1].id
    await fold.flush()
    return fold.sweep
