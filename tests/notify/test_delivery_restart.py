"""A delivery survives its worker being killed (SIGKILL) between or during attempts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import redis.asyncio as aioredis

from service.store.deliveries import queue_key, record_key
from tests.notify.conftest import Harness
from tests.notify.delivery_support import receiver, rules_with
from tests.notify.samples import plateau_firing
from tests.notify.webhook_receiver import SECRET, Endpoint, WebhookReceiver
from tests.support import RedisServer, eventually
from workers.notify.delivery import delivery_id

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def child_worker(
    redis_url: str, receiver_url: str, first_delay: float
) -> Iterator[subprocess.Popen[bytes]]:
    """A delivery worker process; the test kills it, cleanup makes sure it is gone."""
    env = {**os.environ, "SECRET_OPS": SECRET}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.notify.delivery_process",
            redis_url,
            receiver_url,
            str(first_delay),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


async def between_attempts(redis: aioredis.Redis, message_id: str) -> bool:
    """True once the first attempt's failure is recorded and the retry scheduled."""
    record = await redis.hgetall(record_key(message_id))
    return len(json.loads(record.get("attempts", "[]"))) == 1 and "lease" not in record


async def test_killed_between_two_attempts_the_message_is_still_delivered_once(
    harness: Harness,
    hooks: WebhookReceiver,
    redis: aioredis.Redis,
    redis_server: RedisServer,
) -> None:
    url = hooks.add("ops", Endpoint(statuses=[500]))
    firing = plateau_firing()
    message_id = delivery_id(firing, "ops")
    with child_worker(redis_server.url, url, first_delay=2.0) as proc:
        await harness.request("ops", firing)
        await eventually(lambda: between_attempts(redis, message_id), timeout=20)
        proc.kill()  # SIGKILL: no cleanup at all
        await asyncio.to_thread(proc.wait, 10)
    assert [a.status for a in hooks["ops"].arrivals] == [500]

    harness.start(harness.worker(rules_with(receiver("ops", url, timeout=1))))
    await eventually(lambda: _async(harness.count("ops", "ok") == 1))
    arrivals = hooks["ops"].arrivals
    assert [a.status for a in arrivals] == [500, 200]
    assert {a.webhook_id for a in arrivals} == {message_id}
    assert all(a.verified for a in arrivals)
    assert await redis.zcard(queue_key("ops")) == 0
    assert await redis.hget(record_key(message_id), "state") == "delivered"


async def test_killed_during_an_attempt_the_lease_runs_out_and_another_worker_delivers(
    harness: Harness,
    hooks: WebhookReceiver,
    redis: aioredis.Redis,
    redis_server: RedisServer,
) -> None:
    url = hooks.add("ops", Endpoint(sleep=0.5))
    firing = plateau_firing()
    with child_worker(redis_server.url, url, first_delay=0.05) as proc:
        await harness.request("ops", firing)
        await eventually(lambda: _async(len(hooks["ops"].arrivals) == 1), timeout=20)
        proc.kill()  # the request is in flight; its outcome is never recorded
        await asyncio.to_thread(proc.wait, 10)
    hooks["ops"].sleep = 0.0

    harness.start(harness.worker(rules_with(receiver("ops", url, timeout=1))))
    await eventually(lambda: _async(harness.count("ops", "ok") == 1))
    # At least once: the receiver saw it twice, with one webhook-id to dedupe on.
    assert {a.webhook_id for a in hooks["ops"].arrivals} == {delivery_id(firing, "ops")}
    assert len(hooks["ops"].arrivals) == 2


async def test_a_worker_cancelled_abruptly_leaves_nothing_half_done(
    harness: Harness, hooks: WebhookReceiver
) -> None:
    url = hooks.add("ops", Endpoint(statuses=[503]))
    rules = rules_with(receiver("ops", url, timeout=1))
    first = harness.start(harness.worker(rules, name="a"))
    await harness.request("ops", plateau_firing())
    await eventually(lambda: _async(harness.count("ops", "retry") == 1))
    first.cancel()  # no stop signal, no cleanup
    with contextlib.suppress(asyncio.CancelledError):
        await first
    harness.start(harness.worker(rules, name="b"))
    await eventually(lambda: _async(harness.count("ops", "ok") == 1))
    assert len(hooks["ops"].delivered) == 1


async def _async(value: bool) -> bool:
    return value
