"""The simulated platform: every job, the API's reads and actions, and test controls (pure).

Time comes from two injectable functions: `now` (monotonic seconds, drives the jobs) and
`wall` (unix seconds, stamps `created_at` and visibility). Jobs advance lazily when read.

Resume follows OpenAI's documented example: the POST answers `queued`, and the job runs
again after its `resume_delay` (Azure answers `running`; reference §5).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from simulator.errors import ApiError, job_not_found
from simulator.job import TERMINAL, SimJob
from simulator.scenario import JobSpec, Scenario, job_id_for

Action = Literal["pause", "resume", "cancel"]


@dataclass(frozen=True)
class ActionRecord:
    """One pause/resume/cancel call as the platform received it."""

    job_id: str
    action: str
    at: float
    http_status: int
    outcome: Literal["ok", "error", "fault"]
    status: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ManualClock:
    """A clock for tests: time moves only when `advance` is called."""

    def __init__(self, wall_start: float = 1_760_000_000.0) -> None:
        self.t = 0.0
        self.wall_start = wall_start

    def now(self) -> float:
        return self.t

    def wall(self) -> float:
        return self.wall_start + self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class Platform:
    """All simulated jobs; methods raise ApiError exactly where the real API answers 4xx."""

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        now: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.scenario = scenario or Scenario()
        self._now, self._wall = now, wall
        self._jobs: dict[str, SimJob] = {}
        self._order: list[str] = []  # oldest first; lists read it backwards
        self._position: dict[str, int] = {}
        self._owners: dict[str, str] = {}
        self.actions: list[ActionRecord] = []
        for spec in self.scenario.jobs:
            self.add_job(spec)

    def _job(self, job_id: str) -> SimJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise job_not_found(job_id)
        job.advance(self._now(), self._wall())
        return job

    # -- the API's reads --------------------------------------------------------------------
    def list_jobs(
        self,
        *,
        after: str | None = None,
        limit: int = 20,
        metadata: Mapping[str, str] | None = None,
        metadata_null: bool = False,
    ) -> tuple[list[dict[str, Any]], bool]:
        """Jobs newest first (by creation order), filtered by metadata, paged by job id."""
        start = len(self._order) if after is None else self._position.get(after, 0)
        found: list[SimJob] = []
        for position in range(start - 1, -1, -1):
            job = self._jobs[self._order[position]]
            meta = job.spec.metadata
            if metadata_null and meta:
                continue
            if metadata and not (meta and all(meta.get(k) == v for k, v in metadata.items())):
                continue
            found.append(job)
            if len(found) > limit:
                break
        now, wall = self._now(), self._wall()
        for job in found[:limit]:
            job.advance(now, wall)
        return [job.to_json(wall) for job in found[:limit]], len(found) > limit

    def get_job(self, job_id: str) -> dict[str, Any]:
        return self._job(job_id).to_json(self._wall())

    def list_events(
        self, job_id: str, *, after: str | None = None, limit: int = 20
    ) -> tuple[list[Any], bool]:
        return self._job(job_id).events.page(after, limit)

    def list_checkpoints(
        self, job_id: str, *, after: str | None = None, limit: int = 10
    ) -> tuple[list[Any], bool]:
        return self._job(job_id).checkpoints.page(after, limit)

    # -- the API's actions ----------------------------------------------------------------
    def act(self, job_id: str, action: Action) -> dict[str, Any]:
        """Pause, resume or cancel; every call is recorded with its outcome."""
        now, wall = self._now(), self._wall()
        try:
            job = self._job(job_id)
            getattr(job, action)(now, wall)
        except ApiError as exc:
            self.actions.append(
                ActionRecord(job_id, action, wall, exc.status, "error", error=exc.message)
            )
            raise
        self.actions.append(ActionRecord(job_id, action, wall, 200, "ok", status=job.status))
        return job.to_json(wall)

    def pause(self, job_id: str) -> dict[str, Any]:
        return self.act(job_id, "pause")

    def resume(self, job_id: str) -> dict[str, Any]:
        return self.act(job_id, "resume")

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self.act(job_id, "cancel")

    def record_fault(self, job_id: str, action: str, http_status: int) -> None:
        """An action call answered by an injected fault: received, but never applied."""
        self.actions.append(
            ActionRecord(job_id, action, self._wall(), http_status, "fault", error="injected fault")
        )

    # -- controls for tests -----------------------------------------------------------------
    def add_job(self, spec: JobSpec) -> dict[str, Any]:
        """Add a job now (its `elapsed` seconds are replayed with past visibility times)."""
        if spec.id is None:
            index = len(self._order)
            while job_id_for(self.scenario.seed, index) in self._jobs:
                index += 1
            spec = spec.model_copy(update={"id": job_id_for(self.scenario.seed, index)})
        assert spec.id is not None
        if spec.id in self._jobs:
            raise ApiError(409, f"Job {spec.id} already exists.", code="duplicate_job_id")
        wall = self._wall()
        job = SimJob(
            spec, org=self.scenario.organization_id, now=self._now(), wall=wall, owners=self._owners
        )
        self._jobs[job.id] = job
        self._position[job.id] = len(self._order)
        self._order.append(job.id)
        return job.to_json(wall)

    def inject_events(self, job_id: str, items: list[Any], *, complete: bool = False) -> list[Any]:
        """Append raw event objects (malformed ones too); returns their ids (None if none)."""
        return self._job(job_id).inject(items, self._wall(), complete=complete)

    def fast_forward(
        self, job_id: str, *, steps: int | None = None, seconds: float | None = None
    ) -> int:
        """Play `steps` more steps of a job at once; returns the number of new events."""
        return self._job(job_id).fast_forward(
            self._now(), self._wall(), steps=steps, seconds=seconds
        )

    def set_status(self, job_id: str, status: str) -> dict[str, Any]:
        job = self._job(job_id)
        job.set_status(status, self._now(), self._wall())
        return job.to_json(self._wall())

    # -- inspection -----------------------------------------------------------------------
    def job_ids(self) -> list[str]:
        return list(self._order)

    def wall(self) -> float:
        """The platform's wall clock (unix seconds), for flavors that stamp times."""
        return self._wall()

    def spec(self, job_id: str) -> JobSpec:
        """The script a job plays (404 if no such job)."""
        return self._job(job_id).spec

    def all_checkpoints(self, job_id: str) -> list[Any]:
        """Every checkpoint of the job, newest first (for APIs that do not page them)."""
        return self._job(job_id).checkpoints.newest_first()

    def events(self, job_id: str) -> list[Any]:
        """Every event of the job, newest first (what paging through the API must yield)."""
        return self._job(job_id).events.newest_first()

    def visibility(self, job_id: str) -> list[dict[str, Any]]:
        """Oldest first: each event's id, type, step and the wall time it became visible."""
        log = self._job(job_id).events
        rows = []
        for event, at in zip(log.items, log.visible_at, strict=True):
            item = event if isinstance(event, dict) else {}
            data = item.get("data")
            step = data.get("step") if isinstance(data, dict) else None
            rows.append(
                {
                    "id": item.get("id"),
                    "type": item.get("type"),
                    "step": step,
                    "created_at": item.get("created_at"),
                    "visible_at": at,
                }
            )
        return rows

    def visible_at(self, event_id: str) -> dict[str, Any]:
        """When event `event_id` became visible; 404 if no job has it."""
        job_id = self._owners.get(event_id)
        if job_id is None:
            raise ApiError(404, f"No event {event_id}.", code="event_not_found")
        log = self._job(job_id).events
        position = log.position(event_id)
        assert position is not None
        return {"event_id": event_id, "job_id": job_id, "visible_at": log.visible_at[position]}

    def summary(self) -> dict[str, Any]:
        """Every job's status and step, plus whether all have reached a terminal status."""
        now, wall = self._now(), self._wall()
        rows = []
        for job_id in self._order:
            job = self._jobs[job_id]
            job.advance(now, wall)
            rows.append(
                {
                    "id": job_id,
                    "status": job.status,
                    "method": job.spec.method,
                    "step": job.step,
                    "total_steps": job.spec.total_steps,
                    "events": len(job.events),
                    "checkpoints": len(job.checkpoints),
                }
            )
        done = all(row["status"] in TERMINAL for row in rows)
        return {"data": rows, "all_terminal": done}
