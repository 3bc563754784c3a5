"""The webhook delivery worker: admits requests from `ftwatch:deliveries`, runs the lanes.

Flow: the stream's consumer group `deliveries` reads each request `{r, f}`; admission
(one Lua script) puts it in its receiver's queue and acknowledges the entry, so the
group never holds a message for longer than that. Each receiver's lane then claims due
deliveries under a lease, attempts them, and records in one step a success (the
idempotency record), a retry (re-scored in the queue: durable across restarts), or a
dead letter (with every attempt). See service/store/deliveries.py for the keys.
A receiver's `max_concurrency` and `timeout` bound its lane in each process (replicas
each have their own lanes). Delivery is at-least-once: a worker killed mid-request
leaves the receiver to dedupe on `webhook-id`; a recorded success is never re-sent.

Not attempted at all: resolve notices for a format without one (standard), which count
as `skipped`; requests for receivers the rules file does not declare, which are
dead-lettered at once (replay them once the receiver is back).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

import aiohttp
import redis.asyncio as aioredis
import structlog
from pydantic import ValidationError
from redis.exceptions import RedisError

from service.metrics import Metrics
from service.models.firing import Firing
from service.store import keys
from service.store.active_alerts import ActiveAlerts
from service.store.deliveries import GROUP, DeliveryStore
from service.store.pace import Pace
from service.store.scripts import Scripts
from workers.notify.alertmanager import AlertmanagerSender, AlertResender, alert_senders
from workers.notify.delivery import dead_letter_json, delivery_id
from workers.notify.delivery_http import HttpSender, LogSender, Sender
from workers.notify.delivery_lane import Lane, Pacing
from workers.notify.delivery_policy import RetrySchedule, wants
from workers.notify.delivery_run import DEAD_HINT, AttemptRunner
from workers.notify.outcomes import OUTCOME_WAIT
from workers.rules.config import LOG_RECEIVER, RulesFile
from workers.rules.loading import check_env
from workers.stream.consumer import (
    Disposition,
    Fields,
    GroupConfig,
    StreamConsumer,
    one_by_one,
)
from workers.stream.pending import report_pending
from workers.supervisor import LoopFactory, Supervisor
from workers.waiting import wait_event

log = structlog.get_logger(__name__)

# The dead-letter gauge follows replays made through the API within this long.
DEAD_GAUGE_INTERVAL = 5.0
LOG_LANE_CONCURRENCY = 4
# Seconds between two messages to one receiver of a paced format (Slack: one a second).
PACED_FORMATS: Final[Mapping[str, float]] = MappingProxyType({"slack": 1.0})


@dataclass(frozen=True)
class DeliveryConfig:
    """Knobs of the worker; tests shrink the schedule and the intervals."""

    schedule: RetrySchedule = field(default_factory=RetrySchedule)
    # Another replica's new delivery, or a retry scheduled by one, is seen within this.
    poll_seconds: float = 1.0
    # A lease is the receiver's timeout plus this: render, sign and record fit easily.
    lease_margin_seconds: float = 15.0
    # Admission is a few milliseconds; this only matters when a worker died mid-admission.
    claim_idle_ms: int = 30_000
    external_url: str | None = None
    # How long a notice waits for its firing's pause (and the checkpoint it finds).
    outcome_wait_seconds: float = OUTCOME_WAIT
    # How often alerts kept for Alertmanager are re-posted (workers/notify/alertmanager.py).
    alert_resend_seconds: float = 60.0


def secrets_of(rules: RulesFile, environ: Mapping[str, str]) -> dict[str, str | None]:
    """Each receiver's secret; ValueError (check_env's messages) when one is missing."""
    problems = check_env(rules, environ)
    if problems:
        raise ValueError("; ".join(problems))
    return {r.name: environ[r.secret_env] if r.secret_env else None for r in rules.receivers}


class DeliveryWorker:
    """Admission plus one lane per receiver (and the built-in `log`)."""

    def __init__(
        self,
        client: aioredis.Redis,
        scripts: Scripts,
        session: aiohttp.ClientSession,
        rules: RulesFile,
        metrics: Metrics,
        *,
        consumer: str,
        environ: Mapping[str, str],
        config: DeliveryConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or DeliveryConfig()
        self._store = DeliveryStore(client, scripts)
        self._scripts = scripts
        self._metrics = metrics
        self._clock = clock
        runner = AttemptRunner(
            self._store,
            metrics,
            self.config.schedule,
            clock=clock,
            outcome_wait=self.config.outcome_wait_seconds,
        )
        self._alerts = ActiveAlerts(client, resend_seconds=self.config.alert_resend_seconds)
        self.lanes = self._lanes(session, rules, secrets_of(rules, environ), runner)
        self.resender = AlertResender(alert_senders(self.lanes), self._alerts, clock=clock)
        # One reader per partition's stream (one on one Redis): a cluster reads a slot at a time.
        self.consumers = [
            StreamConsumer(
                client,
                GroupConfig(
                    keys.deliveries_stream(p),
                    GROUP,
                    consumer,
                    keys.poison_stream(p),
                    claim_idle_ms=self.config.claim_idle_ms,
                ),
                one_by_one(functools.partial(self.handle, partition=p)),
            )
            for p in keys.partitions()
        ]
        self.consumer = self.consumers[0]

    def _lanes(
        self,
        session: aiohttp.ClientSession,
        rules: RulesFile,
        secrets: dict[str, str | None],
        runner: AttemptRunner,
    ) -> dict[str, Lane]:
        cfg = self.config
        senders: list[tuple[str, Sender, int, float]] = [
            (LOG_RECEIVER, LogSender(self._clock), LOG_LANE_CONCURRENCY, 1.0)
        ]
        for r in rules.receivers:
            sender: HttpSender = HttpSender(
                session, r, secrets[r.name], external_url=cfg.external_url, clock=self._clock
            )
            if r.format == "alertmanager":
                sender = AlertmanagerSender(
                    session,
                    r,
                    secrets[r.name],
                    self._alerts,
                    external_url=cfg.external_url,
                    clock=self._clock,
                )
            senders.append((r.name, sender, r.max_concurrency, r.timeout))
        return {
            name: Lane(
                name,
                sender,
                runner,
                self._store,
                limit=limit,
                lease_seconds=timeout + cfg.lease_margin_seconds,
                poll_seconds=cfg.poll_seconds,
                clock=self._clock,
                pacing=self._pacing(name, sender.format),
            )
            for name, sender, limit, timeout in senders
        }

    def _pacing(self, receiver: str, format: str) -> Pacing | None:
        gap = PACED_FORMATS.get(format)
        return None if gap is None else Pacing(Pace(self._scripts, receiver), gap)

    def loops(self, stop: asyncio.Event) -> dict[str, LoopFactory]:
        """Admission, the gauges and one loop per lane, by name, for a Supervisor."""
        loops: dict[str, LoopFactory] = {
            "deliveries-wake": lambda: self._wake_on_stop(stop),
            "deliveries-dead-gauge": lambda: self._report_dead(stop),
            "deliveries-pending": lambda: report_pending(self.consumers, self._metrics, stop),
            "alerts-resend": lambda: self.resender.run(stop),
        }
        for p, consumer in enumerate(self.consumers):
            name = "deliveries-admission" + (f":{p}" if p else "")
            loops[name] = functools.partial(consumer.run, stop)
        for name, lane in self.lanes.items():
            # Receiver names come from the rules file: a small, bounded label set.
            loops[f"delivery-lane:{name}"] = functools.partial(lane.run, stop)
        return loops

    async def run(self, stop: asyncio.Event) -> None:
        """Admit and deliver until `stop`, each loop supervised: a crash restarts only it.

        For a worker outside the app (tests, a process of its own); the app's loops run
        under its one supervisor instead (service/parts.py: delivery_ctx)."""
        supervisor = Supervisor(stop, self._metrics.loop_restarts)
        for name, factory in self.loops(stop).items():
            supervisor.start(name, factory)
        await supervisor.wait()

    async def handle(
        self, entry_id: str, fields: Fields, deliveries: int, *, partition: int = 0
    ) -> Disposition:
        """Consumer handler (of `partition`'s stream): admission acknowledges the entry itself."""
        receiver = fields.get("r", "")
        try:
            firing = Firing.model_validate_json(fields.get("f", ""))
        except ValidationError as exc:
            log.error(
                "delivery_unreadable",
                entry_id=entry_id,
                receiver=receiver[:64],
                error=str(exc)[:500],
                hint="dropped: not a firing this version reads",
            )
            return Disposition.DONE
        lane = self.lanes.get(receiver)
        if lane is None:
            await self._park_unknown(entry_id, receiver, firing, fields.get("f", ""), partition)
            return Disposition.DONE
        if not wants(lane.sender.format, firing.resolved):
            self._metrics.webhook_deliveries.labels(receiver, "skipped").inc()
            return Disposition.DONE
        message_id = delivery_id(firing, receiver)
        now = int(self._clock() * 1000)
        admitted = await self._store.admit(
            entry_id, message_id, receiver, fields["f"], now, partition=partition
        )
        if admitted == "new":
            lane.wake()
        elif admitted == "delivered":
            self._metrics.webhook_deliveries.labels(receiver, "duplicate").inc()
            log.info(
                "delivery_duplicate",
                receiver=receiver,
                webhook_id=message_id,
                job_id=firing.job.id,
                hint="delivered before: not sent again",
            )
        return Disposition.DONE

    async def _park_unknown(
        self, entry_id: str, receiver: str, firing: Firing, firing_json: str, partition: int
    ) -> None:
        reason = f"receiver {receiver!r} is not declared in the rules file"
        record = dead_letter_json(
            delivery_id(firing, receiver),
            receiver,
            firing_json,
            (),
            reason=reason,
            since=self._clock(),
        )
        await self._store.park(entry_id, record, partition=partition)
        # The name came from a rules file once; unknown ones are rare and bounded by it.
        self._metrics.webhook_deliveries.labels(receiver, "dead").inc()
        log.error(
            "delivery_dead", receiver=receiver, job_id=firing.job.id, reason=reason, hint=DEAD_HINT
        )

    async def _wake_on_stop(self, stop: asyncio.Event) -> None:
        await stop.wait()
        for lane in self.lanes.values():
            lane.wake()

    async def _report_dead(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(RedisError):
                self._metrics.dead_letters.set(await self._store.dead_count())
            await wait_event(stop, DEAD_GAUGE_INTERVAL)
