"""Re-sending kept alerts to a real Alertmanager: a partly refused batch, an unreachable one."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from service.store.active_alerts import ActiveAlert, ActiveAlerts
from tests.alerting.conftest import Alertmanager, config
from tests.support import free_port
from workers.notify.alertmanager import AlertmanagerSender, AlertResender
from workers.notify.payloads.alertmanager import fingerprint
from workers.rules.config import Receiver


def kept(job_id: str, **extra_labels: str) -> ActiveAlert:
    labels = {"alertname": "reward-plateau", "job_id": job_id, **extra_labels}
    body = {
        "labels": labels,
        "annotations": {"summary": job_id},
        "startsAt": "2026-12-03T10:00:00Z",
    }
    return ActiveAlert("am", fingerprint(labels), f"fir_{job_id}", body)


def resender(http: aiohttp.ClientSession, url: str, store: ActiveAlerts) -> AlertResender:
    sender = AlertmanagerSender(
        http, Receiver(name="am", url=url, format="alertmanager"), None, store
    )
    return AlertResender({"am": sender}, store)


async def test_a_batch_refused_in_part_keeps_the_valid_alerts_and_drops_the_bad_one(
    redis: aioredis.Redis, start_alertmanager: Callable[..., Any]
) -> None:
    am: Alertmanager = await start_alertmanager(config())
    store = ActiveAlerts(redis, resend_seconds=60)
    past = time.time() - 61
    # Alertmanager 0.25 refuses the label name `alert-name` (400 for the whole request).
    for alert in (kept("ftjob-good"), kept("ftjob-bad", **{"alert-name": "x"})):
        assert await store.activate(alert, past)
    async with aiohttp.ClientSession() as http:
        await resender(http, am.url, store).once()
    [shown] = await am.alerts(job_id="ftjob-good")
    assert shown["annotations"] == {"summary": "ftjob-good"}
    assert await am.alerts(job_id="ftjob-bad") == []
    # The valid alert is still re-sent; the refused one no more.
    [still] = await store.claim_due(time.time() + 61, 10)
    assert still.firing_id == "fir_ftjob-good"


async def test_an_unreachable_alertmanager_is_tried_again_soon(redis: aioredis.Redis) -> None:
    store = ActiveAlerts(redis, resend_seconds=60)
    now = time.time()
    await store.activate(kept("ftjob-1"), now - 61)
    async with aiohttp.ClientSession() as http:
        await resender(http, f"http://127.0.0.1:{free_port()}", store).once()
    # Not a full interval later: the retry comes within seconds.
    [again] = await store.claim_due(now + 11, 10)
    assert again.firing_id == "fir_ftjob-1"
