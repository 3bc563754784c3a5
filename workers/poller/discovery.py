"""Find the jobs to watch: those named in FTWATCH_JOBS, or every non-terminal one listed."""

from __future__ import annotations

from service.settings import Settings
from service.store.schedule import Schedule
from service.upstream.client import UpstreamClient


async def discover(client: UpstreamClient, schedule: Schedule, settings: Settings) -> int:
    """Add newly found jobs to the schedule; returns how many were new."""
    if settings.job_ids:
        return await schedule.watch(settings.job_ids)
    found = [job.id async for job in client.iter_jobs() if not job.is_terminal]
    return await schedule.watch(found)
