"""The provider protocol: what ftwatch asks of any upstream that runs fine-tuning jobs.

A provider is one upstream account (SPEC §4). The poller, discovery, the executor and the
API talk to this protocol only; a vendor's wire format stays inside its own module, which
turns it into the shapes below (`Job`, `JobEvent`, `Checkpoint`: the fields ftwatch reads).
"""

from __future__ import annotations

from typing import Literal, Protocol

from service.upstream.models import Checkpoint, Job, Page
from service.upstream.selection import NewEvents

__all__ = ["ACTIONS", "Action", "Checkpoint", "Job", "NewEvents", "Page", "Provider"]

Action = Literal["pause", "resume", "cancel"]
ACTIONS: tuple[Action, ...] = ("pause", "resume", "cancel")


class Unsupported(Exception):
    """The provider cannot carry out this action (its capabilities say so)."""

    def __init__(self, provider: str, kind: str, action: str, why: str) -> None:
        super().__init__(f"provider {provider!r} ({kind}) cannot {action} jobs: {why}")
        self.provider, self.action, self.why = provider, action, why


class Provider(Protocol):
    """One upstream account's fine-tuning jobs."""

    name: str
    kind: str
    # Only these jobs are watched (SPEC §5 `jobs`); empty: every job the account lists.
    named_jobs: tuple[str, ...]

    @property
    def last_success_at(self) -> float | None:
        """time.monotonic() of the last answer: readiness of this provider's poller."""
        ...

    def supports(self, action: Action) -> str | None:
        """None when `action` can be carried out, else why not (in words)."""
        ...

    async def list_jobs(self, after: str | None, limit: int) -> Page[Job]:
        """One page of the account's jobs, newest first; `after` pages to older ones."""
        ...

    async def get_job(self, job_id: str) -> Job: ...

    async def new_events(self, job_id: str, cursor: str | None, last_new: int | None) -> NewEvents:
        """The job's events after `cursor` (the provider's own), oldest first, once each.

        `last_new` is how many the previous poll found: a hint for sizing reads.
        """
        ...

    async def list_checkpoints(self, job_id: str, limit: int) -> Page[Checkpoint]: ...

    async def act(self, action: Action, job_id: str) -> Job:
        """Pause, resume or cancel; raises Unsupported when the provider has no such action."""
        ...
