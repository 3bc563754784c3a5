"""One attempt over HTTP: what the receiver gets, and every failure as an Attempt."""

from __future__ import annotations

import aiohttp
import pytest

from tests.notify.delivery_support import receiver, rules_with
from tests.notify.samples import ROUTING_KEY, plateau_firing
from tests.notify.webhook_receiver import SECRET, Endpoint, WebhookReceiver
from tests.support import free_port
from workers.notify.delivery_http import HttpSender, target_url
from workers.notify.delivery_policy import classify
from workers.rules.config import Receiver


def declared(**fields: object) -> Receiver:
    spec = receiver("ops", "http://127.0.0.1:9/x")
    spec.update(fields)
    return rules_with(spec).receivers[0]


async def test_the_receiver_gets_a_signed_body_with_its_static_headers(
    hooks: WebhookReceiver,
) -> None:
    url = hooks.add("ops")
    target = declared(url=url, headers={"X-Team": "search"})
    async with aiohttp.ClientSession() as session:
        attempt = await HttpSender(session, target, SECRET).send("msg_1", plateau_firing())
    assert (attempt.status, classify(attempt)) == (200, "ok")
    [arrival] = hooks["ops"].arrivals
    assert arrival.verified and arrival.webhook_id == "msg_1"
    assert arrival.headers["X-Team"] == "search"
    assert arrival.headers["Content-Type"] == "application/json"
    assert arrival.body["data"]["job"]["id"] == "ftjob-abc123"


async def test_an_unsigned_format_still_carries_the_webhook_id(hooks: WebhookReceiver) -> None:
    url = hooks.add("slack", Endpoint(secret=None))
    target = declared(url=url, format="slack", secret_env=None)
    async with aiohttp.ClientSession() as session:
        await HttpSender(session, target, None).send("msg_2", plateau_firing())
    [arrival] = hooks["slack"].arrivals
    assert arrival.webhook_id == "msg_2"
    assert "webhook-signature" not in {k.lower() for k in arrival.headers}
    assert "blocks" in arrival.body


async def test_an_error_answer_keeps_its_gist_and_retry_after(hooks: WebhookReceiver) -> None:
    url = hooks.add("ops", Endpoint(statuses=[429], headers={"Retry-After": "30"}))
    async with aiohttp.ClientSession() as session:
        attempt = await HttpSender(session, declared(url=url), SECRET).send("m", plateau_firing())
    assert (attempt.status, attempt.retry_after, classify(attempt)) == (429, 30.0, "retry")
    assert attempt.detail == '{"status": 429}'


async def test_a_refused_connection_is_a_retryable_error() -> None:
    target = declared(url=f"http://127.0.0.1:{free_port()}/hook")
    async with aiohttp.ClientSession() as session:
        attempt = await HttpSender(session, target, SECRET).send("m", plateau_firing())
    assert attempt.status is None and attempt.error
    assert classify(attempt) == "retry"


async def test_a_timeout_is_named_with_the_receivers_timeout(hooks: WebhookReceiver) -> None:
    url = hooks.add("ops", Endpoint(sleep=1.0))
    async with aiohttp.ClientSession() as session:
        sender = HttpSender(session, declared(url=url, timeout=0.2), SECRET)
        attempt = await sender.send("m", plateau_firing())
    assert attempt.error == "timeout after 0.2s"
    assert 0.15 < attempt.duration < 0.9


async def test_pagerduty_puts_the_secret_in_the_body_as_routing_key(
    hooks: WebhookReceiver,
) -> None:
    url = hooks.add("pd", Endpoint(secret=None))
    target = declared(url=url, format="pagerduty", secret_env="PD_KEY")
    async with aiohttp.ClientSession() as session:
        await HttpSender(session, target, ROUTING_KEY).send("m", plateau_firing())
        missing = await HttpSender(session, target, None).send("m", plateau_firing())
    [arrival] = hooks["pd"].arrivals
    assert arrival.body["routing_key"] == ROUTING_KEY
    assert arrival.path == "/v2/enqueue"  # `url` is the events base
    assert classify(missing) == "fail"  # no routing key: no retry can help


@pytest.mark.parametrize("suffix", ["", "/", "/v2/enqueue"])
def test_pagerduty_takes_the_events_base_or_the_full_enqueue_url(suffix: str) -> None:
    base = "https://events.pagerduty.com"
    assert target_url(base + suffix, "/v2/enqueue") == f"{base}/v2/enqueue"
    assert target_url(base + suffix, "/v2/change/enqueue") == f"{base}/v2/change/enqueue"
    assert target_url("https://hooks.example.com/x/", "") == "https://hooks.example.com/x/"
