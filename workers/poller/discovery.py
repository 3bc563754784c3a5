"""The jobs sweep: list the account's jobs (newest first) to find new ones and to confirm
every watched job's status, so regular polls need only the job's events.

One listing page carries 100 jobs' statuses: at 10,000 watched jobs a sweep costs 100
requests, against 10,000 if each poll read its job. Watched jobs whose listed status
differs from the stored one are made due now with a request to read the job.

A job can start and finish between two sweeps: never listed while it ran, it would never
be watched. Each sweep remembers the newest job it listed (keys.discovery_mark); a terminal
job listed above the previous sweep's newest was created since, and is watched for its
final drain (its events, and the status event its first poll appends). The first sweep of
a provider only sets the mark: the account's terminal history stays unwatched.
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
    # Of `added`: jobs already terminal, created since the previous sweep.
    adopted: int = 0


class NewSince:
    """Which listed jobs were created since the previous sweep: those listed above its
    newest job (the listing is newest first), and not older than it (should that job be
    gone from the listing)."""

    def __init__(self, previous: tuple[str, int] | None) -> None:
        self._previous = previous
        self._passed = previous is None  # never swept: nothing counts as new
        self.newest: Job | None = None

    def is_new(self, job: Job) -> bool:
        if self.newest is None:
            self.newest = job
        if self._passed or self._previous is None:
            return False
        mark_id, mark_at = self._previous
        if job.id == mark_id or job.created_at < mark_at:
            self._passed = True
            return False
        return True

    def next(self) -> tuple[str, int] | None:
        """The mark to keep after a whole sweep, or None to keep the previous one."""
        if self.newest is None:
            # An empty account: every job listed later is new.
            return ("", 0) if self._previous is None else None
        newest = (self.newest.id, self.newest.created_at)
        if self._previous is not None and newest[1] < self._previous[1]:
            return None  # never move the mark back
        return newest


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
        self._new: set[str] = set()
        self.sweep = Sweep()

    async def add(self, job: Job, *, new: bool = False) -> None:
        self._jobs.append(job)
        if new:
            self._new.add(job.id)
        self.sweep.listed += 1
        if len(self._jobs) >= BATCH:
            await self.flush()

    async def flush(self) -> None:
        jobs, self._jobs = self._jobs, []
        new, self._new = self._new, set()
        name = self._provider
        if self._discovering:
            found = [job_key(name, job.id) for job in jobs if not job.is_terminal]
            self.sweep.added += await self._schedule.watch(found)
            # Finished before any sweep saw it run: watched once, for its final drain (a
            # drained job stays dropped, so a later sweep cannot adopt it again).
            ended = [job_key(name, j.id) for j in jobs if j.is_terminal and j.id in new]
            adopted = await self._schedule.watch(ended)
            self.sweep.added += adopted
            self.sweep.adopted += adopted
        listed = [(job_key(name, j.id), j.status, j.model_dump_json()) for j in jobs]
        changed = await self._schedule.confirm_statuses(listed, keep_seconds=self._keep)
        self.sweep.changed += changed


async def discover(provider: Provider, schedule: Schedule, settings: Settings) -> Sweep:
    """Watch a provider's new jobs (its named ones, or every non-terminal one listed, and
    the terminal ones created since the previous sweep) and sweep their statuses.

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
    mark = None if named else NewSince(await schedule.discovery_mark(provider.name))
    after: str | None = None
    for _ in range(MAX_PAGES):
        page = await provider.list_jobs(after=after, limit=BATCH)
        for job in page.data:
            if mark is not None:
                await fold.add(job, new=mark.is_new(job))
            elif job.id in wanted:
                await fold.add(job)
                wanted.discard(job.id)
        # A cursor that does not move would loop forever: stop as if at the end.
        if (named and not wanted) or not page.has_more or not page.data:
            break
        if page.data[-1].id == after:
            break
        after = page.data[-1].id
    await fold.flush()
    # Only after the whole sweep: one cut short lists the same new jobs again next time.
    if mark is not None and (newest := mark.next()) is not None:
        await schedule.set_discovery_mark(provider.name, *newest)
    return fold.sweep
