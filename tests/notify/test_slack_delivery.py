"""Slack end to end: paced to one message a second per receiver, across replicas.

The receiver judges every body (slack_sdk's block models) and stamps each arrival with
its own clock; spacing is asserted from those stamps, which is what Slack would count.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from tests.notify.conftest import Harness
from tests.notify.delivery_support import rules_with
from tests.notify.samples import plateau_firing
from tests.notify.vendors import Received, Slack, serving
from tests.support import eventually
from workers.notify.delivery import delivery_id
from workers.notify.worker import PACED_FORMATS
from workers.rules.config import RulesFile

GAP = PACED_FORMATS["slack"]
BURST = 20


@pytest.fixture
async def slack() -> AsyncIterator[tuple[Slack, RulesFile]]:
    vendor = Slack()
    async with serving(vendor) as url:
        spec = {"name": "chat", "url": f"{url}/hook", "format": "slack", "timeout": 2}
        # max_concurrency is ignored for a paced receiver: one send at a time.
        yield vendor, rules_with({**spec, "max_concurrency": 8})


async def _true(value: bool) -> bool:
    return value


def gaps(received: list[Received]) -> list[float]:
    stamps = [r.at for r in received]
    return [later - earlier for earlier, later in itertools.pairwise(stamps)]


@pytest.mark.timeout(90)
async def test_a_burst_of_20_goes_out_one_a_second_across_two_replicas_none_lost(
    harness: Harness, slack: tuple[Slack, RulesFile]
) -> None:
    vendor, rules = slack
    harness.start(harness.worker(rules, name="replica-1"))
    harness.start(harness.worker(rules, name="replica-2"))  # shares only Redis with the first
    firings = [plateau_firing(firing_id=f"fir_burst_{n:02d}") for n in range(BURST)]
    for firing in firings:
        await harness.request("chat", firing)
    await eventually(lambda: _true(len(vendor.accepted) == BURST), timeout=BURST * GAP + 30)
    assert all(r.status == 200 for r in vendor.received)  # every body judged valid
    assert min(gaps(vendor.received)) >= GAP
    # Each firing exactly once: none lost, none sent by both replicas.
    assert sorted(r.webhook_id or "" for r in vendor.received) == sorted(
        delivery_id(f, "chat") for f in firings
    )


async def test_a_429s_retry_after_holds_every_message_to_the_receiver(
    harness: Harness, slack: tuple[Slack, RulesFile]
) -> None:
    vendor, rules = slack
    vendor.statuses, vendor.headers = [429], {"Retry-After": "2"}
    harness.start(harness.worker(rules))
    first, second = (plateau_firing(firing_id=f"fir_{n}") for n in ("first", "second"))
    await harness.request("chat", first)
    await harness.request("chat", second)
    await eventually(lambda: _true(len(vendor.accepted) == 2), timeout=15)
    refused, *later = vendor.received
    assert refused.status == 429
    assert [r.status for r in later] == [200, 200]
    # Neither the refused message nor the one queued behind it came back within 2 s.
    assert later[0].at - refused.at >= 2.0
    assert gaps(later)[0] >= GAP
    assert refused.webhook_id == delivery_id(first, "chat")
    assert {r.webhook_id for r in later} == {delivery_id(f, "chat") for f in (first, second)}
