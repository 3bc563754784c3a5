"""The `alertmanager` receiver: post alerts to Alertmanager's API and keep them current.

A firing or resolve is one delivery (retried and dead-lettered like any other: 400, 415
and 422 are final, 5xx and connection errors retried). Delivering it also keeps the
alert in service/store/active_alerts.py, and `AlertResender` re-posts what is kept
every `resend_seconds`: firing alerts until resolved (so they never time out in
Alertmanager), resolves for five more minutes (so a restarted Alertmanager still
learns of them). One batch per receiver; a batch Alertmanager refuses in part (400
stores the valid ones) is re-posted alert by alert, and an alert refused alone is
dropped, since no re-send can change the answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

import aiohttp
import structlog
from redis.exceptions import RedisError

from service.models.firing import Firing
from service.store.active_alerts import ActiveAlert, ActiveAlerts
from workers.notify.delivery import Attempt
from workers.notify.delivery_http import HttpSender
from workers.notify.delivery_lane import Lane
from workers.notify.delivery_policy import classify, describe
from workers.notify.payloads import RenderedPayload
from workers.notify.payloads.alertmanager import (
    API_PATH,
    FIRING_VALIDITY,
    alert_of,
    ends_at,
    fingerprint,
)
from workers.notify.payloads.context import RenderContext
from workers.notify.payloads.encoding import encode, iso_time
from workers.outage import Outage
from workers.rules.config import Receiver
from workers.waiting import wait_event

log = structlog.get_logger(__name__)

BATCH = 500  # alerts claimed (and posted to one receiver) at once
# A re-send that failed for a reason that may pass is tried again this soon.
RETRY_SECONDS = 10.0


def alerts_url(base: str) -> str:
    """`POST` target for the receiver's `url`, Alertmanager's base URL (SPEC §6)."""
    return base.rstrip("/") + API_PATH


class AlertmanagerSender(HttpSender):
    """Posts a firing's alert, and keeps it for the re-sender."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        receiver: Receiver,
        secret: str | None,
        alerts: ActiveAlerts,
        *,
        external_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(session, receiver, secret, external_url=external_url, clock=clock)
        self.url = alerts_url(receiver.url)
        self.name = receiver.name
        self._alerts = alerts

    async def send(self, message_id: str, firing: Firing) -> Attempt:
        at = self._clock()
        ctx = RenderContext(now=at, external_url=self._external_url, receiver=self.name)
        alert = alert_of(firing, ctx)
        kept = ActiveAlert(
            self.name,
            fingerprint(alert["labels"]),
            firing.firing_id,
            alert,
            ends_at(firing, at) if firing.resolved else None,
        )
        to_post = await self._keep(kept, firing, at)
        if to_post is None:
            log.info("alert_superseded", hint="resolved already, or a later episode holds it")
            return Attempt(at=at, duration=0.0)
        return await self.post_alerts(message_id, [to_post], at)

    async def _keep(self, alert: ActiveAlert, firing: Firing, now: float) -> ActiveAlert | None:
        """Record the alert for re-sends; None when it must not be posted at all."""
        if firing.resolved:
            return await self._alerts.resolve(alert, now)
        if firing.kind == "status":
            return alert  # never resolved, so never kept: its endsAt lets Alertmanager end it
        return alert if await self._alerts.activate(alert, now) else None

    async def post_alerts(self, message_id: str, alerts: list[ActiveAlert], now: float) -> Attempt:
        """POST these alerts in one array, each with its `endsAt` as of `now`."""
        body = encode([_postable(a, now) for a in alerts])
        return await self.post(body, self.headers(message_id, RenderedPayload(body), now), now)


def alert_senders(lanes: Mapping[str, Lane]) -> dict[str, AlertmanagerSender]:
    """The lanes' Alertmanager senders by receiver name, for the re-sender."""
    return {
        n: lane.sender for n, lane in lanes.items() if isinstance(lane.sender, AlertmanagerSender)
    }


def _postable(alert: ActiveAlert, now: float) -> dict[str, object]:
    ends = alert.ends if alert.ends is not None else now + FIRING_VALIDITY
    return {**alert.alert, "endsAt": iso_time(ends)}


class AlertResender:
    """Re-posts kept alerts every `resend_seconds`, one batch per receiver."""

    def __init__(
        self,
        senders: Mapping[str, AlertmanagerSender],
        alerts: ActiveAlerts,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._senders = senders
        self._alerts = alerts
        self._clock = clock
        # Look often enough that a re-send is late by a small part of its interval.
        self._tick = min(5.0, alerts.resend_seconds / 4)

    async def run(self, stop: asyncio.Event) -> None:
        """Re-send what falls due until `stop`; Redis outages wait and go on."""
        outage = Outage("alert-resend")
        while not stop.is_set():
            try:
                full = await self.once()
                outage.ended()
            except RedisError as exc:
                await outage.wait(exc, stop)
                continue
            if not full:
                await wait_event(stop, self._tick)

    async def once(self) -> bool:
        """One round; True when it claimed a full batch (more may be due)."""
        now = self._clock()
        due = await self._alerts.claim_due(now, BATCH)
        by_receiver: dict[str, list[ActiveAlert]] = {}
        for alert in due:
            by_receiver.setdefault(alert.receiver, []).append(alert)
        await asyncio.gather(
            *(self._resend(name, batch, now) for name, batch in by_receiver.items())
        )
        return len(due) >= BATCH

    async def _resend(self, receiver: str, batch: list[ActiveAlert], now: float) -> None:
        sender = self._senders.get(receiver)
        if sender is None:  # the receiver left the rules file, or is not alertmanager now
            for alert in batch:
                await self._alerts.forget(alert)
            return
        attempt = await sender.post_alerts(f"resend:{receiver}:{int(now * 1000)}", batch, now)
        kind = classify(attempt)
        if kind == "retry":
            log.warning("alert_resend_retry", receiver=receiver, result=describe(attempt))
            await self._alerts.retry_at(
                batch, now + min(RETRY_SECONDS, self._alerts.resend_seconds)
            )
        elif kind == "fail":
            await self._refused(sender, batch, attempt, now)

    async def _refused(
        self, sender: AlertmanagerSender, batch: list[ActiveAlert], attempt: Attempt, now: float
    ) -> None:
        """Alertmanager refused the batch: find the alerts it refuses alone, drop them."""
        if len(batch) > 1:
            for alert in batch:
                await self._refused_alone(sender, alert, now)
            return
        await self._alerts.forget(batch[0])
        log.error(
            "alert_refused",
            receiver=sender.name,
            fingerprint=batch[0].fingerprint,
            result=describe(attempt),
            detail=attempt.detail,
            hint="Alertmanager refuses this alert; it is no longer re-sent",
        )

    async def _refused_alone(
        self, sender: AlertmanagerSender, alert: ActiveAlert, now: float
    ) -> None:
        attempt = await sender.post_alerts(f"resend:{alert.member}", [alert], now)
        if classify(attempt) == "fail":
            await self._refused(sender, [alert], attempt, now)
