"""The alerts kept for Alertmanager: one re-send per entry across replicas, episodes apart."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from service.store.active_alerts import ActiveAlert, ActiveAlerts

NOW = 1_800_000_000.0


def alert(firing_id: str = "fir_1", fp: str = "aaaa", ends: float | None = None) -> ActiveAlert:
    labels = {"alertname": "reward-plateau", "job_id": "ftjob-1"}
    body = {"labels": labels, "annotations": {"summary": firing_id}, "startsAt": "t0"}
    return ActiveAlert("am", fp, firing_id, body, ends)


async def test_replicas_claiming_at_once_re_send_each_alert_once(redis: aioredis.Redis) -> None:
    store = ActiveAlerts(redis, resend_seconds=60)
    for n in range(50):
        assert await store.activate(alert(fp=f"fp{n}"), NOW)
    later = NOW + 61
    claims = await asyncio.gather(*(store.claim_due(later, 20) for _ in range(5)))
    claimed = [a.fingerprint for batch in claims for a in batch]
    assert sorted(claimed) == sorted(f"fp{n}" for n in range(50))
    # Each is due again one interval after its claim, not before.
    assert await store.claim_due(later + 59, 100) == []
    assert len(await store.claim_due(later + 60, 100)) == 50


async def test_a_firing_delivered_after_its_resolve_does_not_come_back(
    redis: aioredis.Redis,
) -> None:
    store = ActiveAlerts(redis)
    assert await store.activate(alert(), NOW)
    resolved = await store.resolve(alert(ends=NOW + 5), NOW + 5)
    assert resolved is not None and resolved.alert["startsAt"] == "t0"
    assert not await store.activate(alert(), NOW + 6)  # a retry of the firing, late
    [kept] = await store.claim_due(NOW + 70, 10)
    assert kept.ends == NOW + 5


async def test_an_old_episode_never_resolves_the_new_one(redis: aioredis.Redis) -> None:
    store = ActiveAlerts(redis)
    assert await store.activate(alert("fir_1"), NOW)
    assert await store.activate(alert("fir_2"), NOW + 1)  # the next episode, same labels
    assert await store.resolve(alert("fir_1", ends=NOW + 2), NOW + 2) is None
    [kept] = await store.claim_due(NOW + 70, 10)
    assert (kept.firing_id, kept.ends) == ("fir_2", None)


async def test_a_resolve_is_re_sent_for_a_while_then_forgotten(redis: aioredis.Redis) -> None:
    store = ActiveAlerts(redis, resend_seconds=60, keep_resolved_seconds=300)
    await store.activate(alert(), NOW)
    await store.resolve(alert(ends=NOW), NOW)
    assert len(await store.claim_due(NOW + 61, 10)) == 1
    assert await store.claim_due(NOW + 301, 10) == []
    assert await redis.hlen("ftwatch:alerts:record") == 0
