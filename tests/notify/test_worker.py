"""The delivery worker against a real receiver on 127.0.0.1 that verifies every signature."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from service.models.firing import ActionResult
from service.store import keys
from service.store.dead_letters import DeadDelivery, DeadLetters
from service.store.deliveries import DeliveryStore
from service.store.scripts import Scripts
from tests.notify.conftest import Harness
from tests.notify.delivery_support import FAST, environ_for, receiver, rules_with
from tests.notify.samples import ROUTING_KEY, plateau_firing
from tests.notify.webhook_receiver import Endpoint, WebhookReceiver
from tests.support import eventually
from workers.notify.delivery import delivery_id
from workers.notify.delivery_policy import RetrySchedule
from workers.notify.message import summary_line
from workers.notify.signing import webhook_id
from workers.notify.worker import DeliveryConfig


async def test_three_500s_then_delivered_on_the_fourth_with_one_webhook_id(
    harness: Harness, hooks: WebhookReceiver
) -> None:
    url = hooks.add("ops", Endpoint(statuses=[500, 500, 500]))
    harness.start(harness.worker(rules_with(receiver("ops", url))))
    firing = plateau_firing()
    await harness.request("ops", firing)

    await eventually(lambda: _async(harness.count("ops", "ok") == 1))
    arrivals = hooks["ops"].arrivals
    assert [a.status for a in arrivals] == [500, 500, 500, 200]
    assert all(a.verified for a in arrivals)  # standardwebhooks accepted every attempt
    assert {a.webhook_id for a in arrivals} == {webhook_id(firing.firing_id, "ops")}
    assert arrivals[-1].body["type"] == "ftwatch.rule.fired"
    assert arrivals[-1].body["data"]["firing_id"] == firing.firing_id
    assert harness.count("ops", "retry") == 3
    assert harness.count("ops", "ok") == 1
    latency = harness.metrics.registry.get_sample_value(
        "ftwatch_webhook_delivery_duration_seconds_count", {"receiver": "ops"}
    )
    assert latency == 4
    await asyncio.sleep(0)  # nothing more arrives: it was delivered once
    assert len(hooks["ops"].arrivals) == 4


async def test_410_goes_straight_to_dead_letters_and_replay_delivers_it(
    harness: Harness, hooks: WebhookReceiver, redis: aioredis.Redis
) -> None:
    url = hooks.add("ops", Endpoint(statuses=[410]))
    harness.start(harness.worker(rules_with(receiver("ops", url))))
    firing = plateau_firing()
    await harness.request("ops", firing)

    letters = DeadLetters(redis)
    [(entry_id, dead)] = await eventually(lambda: dead_items(redis), message="no dead letter")
    assert len(hooks["ops"].arrivals) == 1  # 410 is not retried
    assert dead.receiver == "ops"
    assert dead.delivery_id == webhook_id(firing.firing_id, "ops")
    assert dead.firing == firing
    [attempt] = dead.attempts
    assert attempt["status"] == 410 and attempt["duration"] >= 0 and attempt["at"] > 0
    assert harness.count("ops", "dead") == 1
    await eventually(
        lambda: _async(
            harness.metrics.registry.get_sample_value("ftwatch_webhook_dead_letters") == 1
        )
    )

    # The API's replay puts it back on the stream; the receiver now accepts it.
    assert await letters.replay(dead) is not None
    await eventually(lambda: _async(len(hooks["ops"].delivered) == 1))
    ids = {a.webhook_id for a in hooks["ops"].arrivals}
    assert ids == {dead.delivery_id}
    assert await redis.xlen(keys.DEAD_DELIVERIES_STREAM) == 0
    assert entry_id


async def test_a_receiver_that_never_answers_does_not_delay_another(
    harness: Harness, hooks: WebhookReceiver
) -> None:
    slow = hooks.add("slow", Endpoint(sleep=2))
    fast = hooks.add("fast")
    rules = rules_with(receiver("slow", slow, timeout=1, max_concurrency=1), receiver("fast", fast))
    harness.start(harness.worker(rules))
    firings = [plateau_firing(firing_id=f"fir_{n}") for n in range(6)]
    for firing in firings:
        await harness.request("slow", firing)
        await harness.request("fast", firing)

    await eventually(lambda: _async(harness.count("fast", "ok") == 6))
    # All six reached `fast` while `slow` still held its first request (1 s timeout).
    assert harness.count("slow", "retry") == 0
    assert len(hooks["slow"].arrivals) == 1  # max_concurrency 1: the rest wait in Redis
    await eventually(lambda: _async(harness.count("slow", "retry") == 1))


async def test_a_timed_out_attempt_is_retried_and_counted(
    harness: Harness, hooks: WebhookReceiver
) -> None:
    url = hooks.add("ops")
    hooks["ops"].sleep = 1.0
    harness.start(harness.worker(rules_with(receiver("ops", url, timeout=0.3))))
    await harness.request("ops", plateau_firing())
    await eventually(lambda: _async(harness.count("ops", "retry") >= 1))
    hooks["ops"].sleep = 0.0
    await eventually(lambda: _async(harness.count("ops", "ok") == 1))
    assert len({a.webhook_id for a in hooks["ops"].arrivals}) == 1


async def test_retry_after_is_honoured(harness: Harness, hooks: WebhookReceiver) -> None:
    url = hooks.add("ops", Endpoint(statuses=[429], headers={"Retry-After": "1"}))
    harness.start(harness.worker(rules_with(receiver("ops", url))))
    await harness.request("ops", plateau_firing())
    await eventually(lambda: _async(len(hooks["ops"].delivered) == 1))
    first, second = hooks["ops"].arrivals
    assert second.at - first.at >= 0.95  # the schedule alone would retry after 50 ms


async def test_what_never_succeeds_is_parked_with_every_attempt(
    harness: Harness, hooks: WebhookReceiver, redis: aioredis.Redis
) -> None:
    url = hooks.add("ops", Endpoint(statuses=[503] * 10))
    harness.start(harness.worker(rules_with(receiver("ops", url))))
    await harness.request("ops", plateau_firing())
    [(_, dead)] = await eventually(lambda: dead_items(redis))
    assert [a["status"] for a in dead.attempts] == [503, 503, 503, 503]  # 3 delays: 4 tries
    assert all(a["detail"] == '{"status": 503}' for a in dead.attempts)
    assert harness.count("ops", "retry") == 3
    assert harness.count("ops", "dead") == 1
    rows: Any = await redis.xrange(keys.DEAD_DELIVERIES_STREAM)
    raw = rows[0][1]["d"]
    assert "gave up after 4 attempts" in json.loads(raw)["reason"]


async def test_a_duplicate_request_is_delivered_once(
    harness: Harness, hooks: WebhookReceiver
) -> None:
    url = hooks.add("ops")
    harness.start(harness.worker(rules_with(receiver("ops", url))))
    firing = plateau_firing()
    await harness.request("ops", firing)
    await eventually(lambda: _async(len(hooks["ops"].delivered) == 1))
    await harness.request("ops", firing)  # e.g. a redelivered entry after a crash
    await eventually(lambda: _async(harness.count("ops", "duplicate") == 1))
    assert len(hooks["ops"].arrivals) == 1


async def test_a_failed_action_is_a_distinct_message_of_the_same_firing(
    harness: Harness, hooks: WebhookReceiver
) -> None:
    url = hooks.add("ops")
    harness.start(harness.worker(rules_with(receiver("ops", url))))
    fired = plateau_firing()
    failed = fired.model_copy(
        update={
            "type": "ftwatch.action.failed",
            "stage": "action",
            "actions": [ActionResult(action="pause", outcome="failed", detail="HTTP 500")],
        }
    )
    await harness.request("ops", fired)
    await harness.request("ops", failed)
    await eventually(lambda: _async(len(hooks["ops"].delivered) == 2))
    types = sorted(a.body["type"] for a in hooks["ops"].arrivals)
    assert types == ["ftwatch.action.failed", "ftwatch.rule.fired"]
    assert len({a.webhook_id for a in hooks["ops"].arrivals}) == 2


async def test_resolve_notices_go_to_formats_that_resolve_or_post_them(
    harness: Harness, hooks: WebhookReceiver
) -> None:
    std = hooks.add("std")
    slack = hooks.add("slack", Endpoint(secret=None))
    pager = hooks.add("pager", Endpoint(secret=None))
    rules = rules_with(
        receiver("std", std),
        receiver("slack", slack, format="slack", secret_env=None),
        receiver("pager", pager, format="pagerduty", secret_env="PD_KEY"),
    )
    environ = {**environ_for(rules), "PD_KEY": ROUTING_KEY}
    harness.start(harness.worker(rules, environ=environ))
    resolved = plateau_firing(resolved=True)
    for name in ("std", "slack", "pager"):
        await harness.request(name, resolved)
    await eventually(lambda: _async(len(hooks["pager"].delivered) == 1))
    await eventually(lambda: _async(len(hooks["slack"].delivered) == 1))
    header = hooks["slack"].arrivals[0].body["blocks"][0]["text"]["text"]
    assert header == "Resolved: reward-plateau on ftjob-abc123"
    body = hooks["pager"].arrivals[0].body
    assert body["event_action"] == "resolve"
    assert body["routing_key"] == ROUTING_KEY  # PagerDuty: the secret is the routing key
    assert "webhook-signature" not in {k.lower() for k in hooks["pager"].arrivals[0].headers}
    await eventually(lambda: _async(harness.count("std", "skipped") == 1))
    assert hooks["std"].arrivals == []


async def test_the_log_receiver_logs_one_readable_line(harness: Harness) -> None:
    harness.start(harness.worker(rules_with()))
    firing = plateau_firing()
    with capture_logs() as logs:
        await harness.request("log", firing)
        await eventually(lambda: _async(harness.count("log", "ok") == 1))
    [line] = [e for e in logs if e["event"] == "notification"]
    assert line["log_level"] == "info"
    assert line["line"] == summary_line(firing)


async def test_an_undeclared_receiver_is_dead_lettered_for_replay_later(
    harness: Harness, redis: aioredis.Redis
) -> None:
    harness.start(harness.worker(rules_with()))
    firing = plateau_firing()
    await harness.request("gone", firing)
    [(_, dead)] = await eventually(lambda: dead_items(redis))
    assert (dead.receiver, dead.attempts) == ("gone", [])
    assert dead.delivery_id == delivery_id(firing, "gone")


async def test_a_missing_secret_is_refused_at_start(
    harness: Harness, hooks: WebhookReceiver
) -> None:
    rules = rules_with(receiver("ops", hooks.add("ops")))
    with pytest.raises(ValueError, match="SECRET_OPS is not set"):
        harness.worker(rules, environ={})


async def test_two_workers_deliver_each_message_once(
    harness: Harness, hooks: WebhookReceiver, redis: aioredis.Redis
) -> None:
    url = hooks.add("ops", Endpoint(statuses=[500, 502]))
    rules = rules_with(receiver("ops", url))
    harness.start(harness.worker(rules, name="a"))
    harness.start(harness.worker(rules, name="b"))
    firings = [plateau_firing(firing_id=f"fir_{n}") for n in range(20)]
    for firing in firings:
        await harness.request("ops", firing)
    await eventually(lambda: _async(harness.count("ops", "ok") == 20))
    delivered = [a.webhook_id or "" for a in hooks["ops"].delivered]
    assert sorted(delivered) == sorted(delivery_id(f, "ops") for f in firings)
    store = DeliveryStore(redis, Scripts(redis))
    assert {await store.state(i) for i in delivered} == {"delivered"}


async def test_the_production_schedule_is_not_used_by_these_tests() -> None:
    # Guard: the fast config really is fast, the default really is hours.
    assert sum(FAST.schedule.delays) < 1
    assert sum(DeliveryConfig().schedule.delays) > 9 * 3600
    assert RetrySchedule().max_attempts == 9


async def _async(value: bool) -> bool:
    return value


async def dead_items(redis: aioredis.Redis) -> list[tuple[str, DeadDelivery]]:
    return (await DeadLetters(redis).page(limit=10)).items
