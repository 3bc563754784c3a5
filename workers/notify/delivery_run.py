"""One claimed delivery, one attempt: send, judge, record durably, count, log.

The outcome is recorded only if the lease is still ours (see finish_delivery.lua): a
worker that outlived its lease (stalled past timeout + margin) leaves the decision to
the one that took over. The receiver may then see the message twice, with one
`webhook-id`: delivery is at-least-once, and the id is what receivers dedupe on.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import structlog
from pydantic import ValidationError

from service.metrics import Metrics
from service.models.firing import Firing
from service.store.deliveries import Claimed, DeliveryStore, Outcome
from workers.notify.delivery import Attempt, attempts_json, dead_letter_json, parse_attempts
from workers.notify.delivery_http import Sender
from workers.notify.delivery_policy import RetrySchedule, describe, judge
from workers.notify.outcomes import OUTCOME_WAIT, RECHECK, complete, still_waiting, waits

log = structlog.get_logger(__name__)

_METRIC_OUTCOME = {"delivered": "ok", "retry": "retry", "dead": "dead"}
DEAD_HINT = "list with GET /v1/deliveries/dead; replay with POST /v1/deliveries/dead/{id}/replay"


class AttemptRunner:
    """Runs attempts for every receiver; shared by the lanes of one worker."""

    def __init__(
        self,
        store: DeliveryStore,
        metrics: Metrics,
        schedule: RetrySchedule,
        *,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        outcome_wait: float = OUTCOME_WAIT,
    ) -> None:
        self._outcome_wait = outcome_wait
        self._store = store
        self._metrics = metrics
        self._schedule = schedule
        self._clock = clock
        self._rand = rand

    async def run(
        self, receiver: str, sender: Sender, claimed: Claimed, token: str
    ) -> Attempt | None:
        """Attempt `claimed` once and record what came of it; the attempt, if one was made."""
        since = claimed.since_ms / 1000
        earlier = parse_attempts(claimed.attempts_json)
        try:
            firing = Firing.model_validate_json(claimed.firing_json)
        except ValidationError as exc:  # admission validated it: only a corrupted record
            attempt = Attempt(
                at=self._clock(),
                duration=0.0,
                permanent=True,
                error=f"unreadable firing: {exc.error_count()} errors",
            )
            await self._record(
                receiver, claimed, token, (*earlier, attempt), since=since, firing=None
            )
            return None
        with structlog.contextvars.bound_contextvars(
            job_id=firing.job.id, receiver=receiver, webhook_id=claimed.delivery_id
        ):
            ready = await self._ready(receiver, claimed, token, firing, since=since)
            if ready is None:
                return None
            firing = ready
            attempt = await sender.send(claimed.delivery_id, firing)
            if sender.format != "log":
                self._metrics.webhook_latency.labels(receiver).observe(attempt.duration)
            await self._record(
                receiver, claimed, token, (*earlier, attempt), since=since, firing=firing
            )
        return attempt

    async def _ready(
        self, receiver: str, claimed: Claimed, token: str, firing: Firing, *, since: float
    ) -> Firing | None:
        """The firing with its actions' outcomes; None: deferred, they are still running."""
        if not waits(firing):
            return firing
        firing = complete(firing, await self._store.outcomes(firing.firing_id))
        if still_waiting(firing) and self._clock() < since + self._outcome_wait:
            await self._defer(receiver, claimed, token)
            return None
        return firing

    async def _defer(self, receiver: str, claimed: Claimed, token: str) -> None:
        """Back in the queue for a moment, no attempt made: its actions are still running."""
        due_ms = int((self._clock() + RECHECK) * 1000)
        outcome = Outcome(verdict="retry", attempts_json=claimed.attempts_json, due_ms=due_ms)
        await self._store.finish(receiver, claimed.delivery_id, token, outcome)

    async def _record(
        self,
        receiver: str,
        claimed: Claimed,
        token: str,
        attempts: tuple[Attempt, ...],
        *,
        since: float,
        firing: Firing | None,
    ) -> None:
        judgement = judge(attempts, since, self._schedule, self._rand)
        outcome = Outcome(
            verdict=judgement.verdict,
            attempts_json=attempts_json(attempts),
            due_ms=int((attempts[-1].at + judgement.delay) * 1000),
            dead_json=dead_letter_json(
                claimed.delivery_id,
                receiver,
                claimed.firing_json,
                attempts,
                reason=judgement.reason,
                since=since,
            )
            if judgement.verdict == "dead"
            else "",
        )
        if not await self._store.finish(receiver, claimed.delivery_id, token, outcome):
            log.warning(
                "delivery_lease_lost",
                attempt=len(attempts),
                hint="another worker took this delivery over; its attempt decides",
            )
            return
        self._metrics.webhook_deliveries.labels(receiver, _METRIC_OUTCOME[outcome.verdict]).inc()
        latest = attempts[-1]
        rule = firing.rule if firing is not None else None
        if judgement.verdict == "delivered":
            log.info(
                "delivery_ok", attempt=len(attempts), rule=rule, duration=round(latest.duration, 3)
            )
        elif judgement.verdict == "retry":
            log.warning(
                "delivery_retry",
                attempt=len(attempts),
                rule=rule,
                result=describe(latest),
                retry_in=round(judgement.delay, 1),
            )
        else:
            self._metrics.dead_letters.set(await self._store.dead_count())
            log.error(
                "delivery_dead",
                attempts=len(attempts),
                rule=rule,
                reason=judgement.reason,
                hint=DEAD_HINT,
            )
