"""Execute pause, resume and cancel once per (firing, action), reconciling with upstream.

The effect is claimed before the call and recorded after it. A crash in between leaves
`started`: the retry reads the job first and does not call again when the job is already
where the action would take it, so a job is paused once whatever is redelivered. If
another action on the job was claimed since (the firing's own resume, say), the retry is
superseded and calls nothing: applied late, it would undo that later decision.

A pause whose rule also resumes schedules that resume once the pause held (never from
the firing: a pause slowed by retries would lose the race and stay paused for good).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from service.metrics import Metrics
from service.models.action import ActionName, ActionTask
from service.models.audit import action_record
from service.models.decision import Decision, decision_id
from service.models.firing import ActionResult, Firing, JobFacts
from service.models.ident import INGEST_PROVIDER, job_key
from service.models.lifecycle import pointless, reached
from service.providers.base import Provider, Unsupported
from service.providers.registry import Providers, UnknownProvider
from service.store.decisions import DecisionStore
from service.store.effects import Effects
from service.upstream.errors import (
    BadRequest,
    NotFound,
    QuotaExceeded,
    Unauthorized,
    UpstreamError,
)
from service.upstream.models import Checkpoint

log = structlog.get_logger(__name__)

SUPERSEDED = "an earlier try was cut short, and a later action on this job was decided since"
# SPEC §4: an ingested job resumes "only when the trainer waits for it". The trainers of
# ftwatch_client save a checkpoint and stop on a pause, so none waits: say what to do.
INGEST_RESUME = (
    "an ingested job's trainer stops when it pauses; ftwatch cannot restart it: "
    "restart the training from its checkpoint (its events then show it running again)"
)


class ActionExecutor:
    """Calls the upstream for one action and records what came of it."""

    def __init__(
        self,
        providers: Providers,
        effects: Effects,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        *,
        decisions: DecisionStore | None = None,
    ) -> None:
        self._providers = providers
        self._effects = effects
        self._metrics = metrics
        self._clock = clock
        self._decisions = decisions

    async def perform(
        self,
        job: JobFacts,
        action: ActionName,
        *,
        firing_id: str,
        event_created_at: int | None = None,
        by: str = "api",
        reason: str | None = None,
    ) -> ActionResult:
        """A manual action (the API, or `alertmanager:<alertname>`): executed and recorded
        like a rule's, with `by` as the audit log's rule."""
        firing = Firing(
            firing_id=firing_id,
            rule=by,
            kind="manual",
            job=job,
            reason=reason or f"{action} requested through the API",
            fired_at=self._clock(),
            event_created_at=event_created_at,
            actions=[ActionResult(action=action, outcome="queued")],
        )
        return await self.execute(ActionTask(action=action, firing=firing), record_firing=True)

    async def execute(self, task: ActionTask, *, record_firing: bool = False) -> ActionResult:
        """Run the task unless an earlier try finished it; record and count the outcome.

        `record_firing`: a manual action's firing goes on the audit log once, before its
        action (a rule's is recorded when it fires)."""
        claim = await self._effects.claim(task.effect_key, task.firing.job.key)
        if claim.done is not None:
            return ActionResult(
                action=task.action,
                outcome="already",
                detail=f"done before for this firing ({claim.done})",
            )
        if record_firing and claim.previous is None:
            await self._effects.record(task.firing)
        job = task.firing.job
        with structlog.contextvars.bound_contextvars(provider=task.provider, job_id=job.id):
            if claim.superseded and task.action != "cancel":
                # An earlier try died unrecorded, and a later action on the job (this
                # firing's own resume, say) was decided since: re-applying this one would
                # undo it. A cancel is final and never undoes anything: it goes on.
                result = self._result(task, "skipped", SUPERSEDED)
            else:
                result = await self._apply(task, retrying=claim.previous is not None)
            await self._schedule_resume(task, result)
            checkpoint = await self._checkpoint(task) if result.outcome == "ok" else None
            await self._effects.finish(task.effect_key, task.firing.job.key, result.outcome)
            await self._record(task, result, checkpoint)
        return result

    async def _schedule_resume(self, task: ActionTask, result: ActionResult) -> None:
        """After a pause that holds, schedule its rule's resume (before the effect is marked
        done, so a crash in between repeats the scheduling, never loses it)."""
        # `queued`: a decision left for a trainer; its resume is then recorded unsupported
        # when it comes due, rather than silently never scheduled.
        if task.resume_after is None or result.outcome not in {"ok", "already", "queued"}:
            return
        resume = task.model_copy(update={"action": "resume", "resume_after": None})
        await self._effects.delay(resume, int((self._clock() + task.resume_after) * 1000))

    async def give_up(self, task: ActionTask, error: Exception) -> ActionResult:
        """Record a failure after the upstream stayed unavailable through every retry."""
        result = ActionResult(
            action=task.action, outcome="failed", detail=str(error)[:500], at=self._clock()
        )
        await self._effects.finish(task.effect_key, task.firing.job.key, "failed")
        await self._record(task, result, None)
        return result

    def _provider(self, task: ActionTask) -> Provider | None:
        """The provider to call; None for an ingested job, whose trainer decides."""
        if task.provider == INGEST_PROVIDER:
            return None
        return self._providers[task.provider]

    async def _apply(self, task: ActionTask, *, retrying: bool) -> ActionResult:
        try:
            provider = self._provider(task)
        except UnknownProvider as exc:
            return self._result(task, "failed", str(exc))
        if provider is None:
            return await self._decide(task)
        why = provider.supports(task.action)
        if why is not None:  # never retried: asking again cannot change the answer
            return self._result(
                task,
                "unsupported",
                str(Unsupported(provider.name, provider.kind, task.action, why)),
            )
        return await self._call(provider, task, retrying=retrying)

    async def _decide(self, task: ActionTask) -> ActionResult:
        """An ingested job: leave a decision for its trainer (it acks what it did)."""
        status = task.firing.job.status
        if status is not None and reached(task.action, status):
            return self._result(task, "already", f"job is {status}")
        if task.action == "resume":
            return self._result(task, "unsupported", INGEST_RESUME)
        if self._decisions is None:
            return self._result(task, "failed", "this process keeps no decisions")
        key = job_key(task.provider, task.firing.job.id)
        decision = await self._decisions.record(key, self._decision(task), task.notify)
        return self._result(
            task, "queued", f"decision {decision.id} sent to the trainer; waiting for its ack"
        )

    def _decision(self, task: ActionTask) -> Decision:
        firing = task.firing
        return Decision(
            id=decision_id(task.effect_key),
            provider=task.provider,
            job_id=firing.job.id,
            action="cancel" if task.action == "cancel" else "pause",
            rule=firing.rule,
            reason=firing.reason,
            best_value=firing.best,
            best_step=firing.best_step,
            firing_id=firing.firing_id,
            created_at=self._clock(),
        )

    async def _call(self, provider: Provider, task: ActionTask, *, retrying: bool) -> ActionResult:
        job_id = task.firing.job.id
        if retrying:
            status = (await provider.get_job(job_id)).lifecycle
            if reached(task.action, status):
                return self._result(task, "already", f"job is {status}")
        try:
            await provider.act(task.action, job_id)
        except BadRequest as exc:
            return await self._reconcile(provider, task, exc)
        except (NotFound, Unauthorized, QuotaExceeded) as exc:
            return self._result(task, "failed", exc.message)
        return self._result(task, "ok")

    async def _reconcile(
        self, provider: Provider, task: ActionTask, exc: BadRequest
    ) -> ActionResult:
        """The upstream refused: find out whether the goal already holds or cannot."""
        status = (await provider.get_job(task.firing.job.id)).lifecycle
        if reached(task.action, status):
            return self._result(task, "already", f"job is {status}")
        reason = pointless(task.action, status)
        if reason is not None:
            return self._result(task, "skipped", reason)
        return self._result(task, "failed", exc.message)

    def _result(self, task: ActionTask, outcome: str, detail: str = "") -> ActionResult:
        return ActionResult(action=task.action, outcome=outcome, detail=detail, at=self._clock())

    async def _checkpoint(self, task: ActionTask) -> str | None:
        """After a pause, the checkpoint at (or before) the best step: the model to keep."""
        if task.action != "pause" or task.provider == INGEST_PROVIDER:
            return None
        try:
            provider = self._providers[task.provider]
            page = await provider.list_checkpoints(task.firing.job.id, limit=100)
        except UnknownProvider:
            return None
        except UpstreamError as exc:  # a missing checkpoint name must not fail the pause
            log.info("checkpoints_unavailable", error=str(exc))
            return None
        return best_checkpoint(page.data, task.firing.best_step)

    async def _record(self, task: ActionTask, result: ActionResult, checkpoint: str | None) -> None:
        self._metrics.actions.labels(task.action, result.outcome).inc()
        created = task.firing.event_created_at
        if result.outcome == "ok" and created:
            self._metrics.event_to_action.observe(max(0.0, self._clock() - created))
        failed = result.outcome in ("failed", "unsupported")
        record = task.firing.model_copy(
            update={
                "actions": [result],
                "checkpoint": checkpoint or task.firing.checkpoint,
                "stage": "action",
                "type": "ftwatch.action.failed" if failed else task.firing.type,
            }
        )
        # The audit log has the firing already: the action's own facts, naming it.
        await self._effects.record_action(action_record(task.firing, result, checkpoint))
        # The firing's notices wait briefly for this (workers/notify/outcomes.py).
        await self._effects.note_outcome(
            task.firing.firing_id, task.action, record.model_dump_json()
        )
        log.info(
            "action_done",
            action=task.action,
            outcome=result.outcome,
            provider=task.firing.job.provider,
            job_id=task.firing.job.id,
            rule=task.firing.rule,
            reason=task.firing.reason,
            **({"detail": result.detail} if result.detail else {}),
        )
        if failed:
            for receiver in task.notify:
                await self._effects.deliver(task.firing.job.key, receiver, record.model_dump_json())


def best_checkpoint(checkpoints: list[Checkpoint], best_step: int | None) -> str | None:
    """The checkpoint at the best step, else the latest one before it, else the latest."""
    if not checkpoints:
        return None
    ranked = sorted(checkpoints, key=lambda c: c.step_number, reverse=True)
    if best_step is not None:
        before = [c for c in ranked if c.step_number <= best_step]
        if before:
            return before[0].fine_tuned_model_checkpoint or before[0].id
    return ranked[0].fine_tuned_model_checkpoint or ranked[0].id
