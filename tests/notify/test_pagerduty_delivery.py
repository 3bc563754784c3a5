"""PagerDuty end to end: the worker against an Events API v2 on 127.0.0.1 that judges bodies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from service.models.firing import JobFacts
from service.store import keys
from tests.notify.conftest import Harness
from tests.notify.delivery_support import rules_with
from tests.notify.samples import ROUTING_KEY, plateau_firing
from tests.notify.vendors import PagerDuty, serving
from tests.support import eventually
from workers.rules.config import RulesFile


@pytest.fixture
async def pagerduty() -> AsyncIterator[tuple[PagerDuty, RulesFile]]:
    vendor = PagerDuty()
    async with serving(vendor) as url:
        spec = {"name": "pd", "url": url, "format": "pagerduty", "secret_env": "PD_KEY"}
        yield vendor, rules_with({**spec, "timeout": 2})


async def _true(value: bool) -> bool:
    return value


async def _dead_records(redis: aioredis.Redis) -> list[dict[str, Any]]:
    rows: Any = await redis.xrange(keys.DEAD_DELIVERIES_STREAM)
    return [json.loads(fields["d"]) for _, fields in rows]


async def test_an_incident_triggers_then_resolves_with_the_same_dedup_key(
    harness: Harness, pagerduty: tuple[PagerDuty, RulesFile]
) -> None:
    vendor, rules = pagerduty
    harness.start(harness.worker(rules, environ={"PD_KEY": ROUTING_KEY}))
    await harness.request("pd", plateau_firing(severity="critical"))
    key = "ftwatch:openai:ftjob-abc123:reward-plateau"
    await eventually(lambda: _true(vendor.incidents.get(key) == "triggered"))
    await harness.request("pd", plateau_firing(resolved=True, reason="resolved: job resumed"))
    await eventually(lambda: _true(vendor.incidents.get(key) == "resolved"))
    trigger, resolve = vendor.received
    assert (trigger.status, resolve.status) == (202, 202)  # both bodies met the schema
    assert trigger.body["payload"]["severity"] == "critical"
    assert resolve.body["dedup_key"] == trigger.body["dedup_key"] == key


async def test_a_job_completion_is_a_change_event(
    harness: Harness, pagerduty: tuple[PagerDuty, RulesFile]
) -> None:
    vendor, rules = pagerduty
    harness.start(harness.worker(rules, environ={"PD_KEY": ROUTING_KEY}))
    done = JobFacts(id="ftjob-abc123", status="succeeded")
    finished = plateau_firing(type="ftwatch.job.finished", kind="status", job=done, actions=[])
    await harness.request("pd", finished)
    await eventually(lambda: _true(len(vendor.accepted) == 1))
    [change] = vendor.received
    assert change.path == "/v2/change/enqueue"
    assert vendor.incidents == {}  # a change event pages nobody


async def test_429_and_5xx_are_retried_until_pagerduty_takes_the_event(
    harness: Harness, pagerduty: tuple[PagerDuty, RulesFile]
) -> None:
    vendor, rules = pagerduty
    vendor.statuses = [429, 502]
    harness.start(harness.worker(rules, environ={"PD_KEY": ROUTING_KEY}))
    await harness.request("pd", plateau_firing())
    await eventually(lambda: _true(harness.count("pd", "ok") == 1))
    assert [r.status for r in vendor.received] == [429, 502, 202]
    assert len({json.dumps(r.body, sort_keys=True) for r in vendor.received}) == 1


async def test_a_400_is_dead_lettered_with_pagerdutys_message(
    harness: Harness, pagerduty: tuple[PagerDuty, RulesFile], redis: aioredis.Redis
) -> None:
    vendor, rules = pagerduty
    harness.start(harness.worker(rules, environ={"PD_KEY": "too-short"}))
    await harness.request("pd", plateau_firing())
    [record] = await eventually(lambda: _dead_records(redis), message="no dead letter")
    assert [r.status for r in vendor.received] == [400]  # never retried
    said = "Event object is invalid: Length of 'routing_key' is incorrect (should be 32 characters)"
    assert record["reason"] == f"HTTP 400 is not retried: {said}"
    assert record["attempts"][0]["detail"] == said
    assert harness.count("pd", "dead") == 1


async def test_every_body_fits_the_limits_even_for_huge_ids_and_reasons(
    harness: Harness, pagerduty: tuple[PagerDuty, RulesFile]
) -> None:
    vendor, rules = pagerduty
    harness.start(harness.worker(rules, environ={"PD_KEY": ROUTING_KEY}))
    huge = plateau_firing(job=JobFacts(id="ftjob-" + "x" * 600), reason="why " * 2000)
    await harness.request("pd", huge)
    await harness.request("pd", huge.model_copy(update={"resolved": True}))
    await eventually(lambda: _true(len(vendor.received) == 2))
    assert [r.status for r in vendor.received] == [202, 202]
    trigger, resolve = (r.body for r in vendor.received)
    assert len(trigger["dedup_key"]) == 255 and len(trigger["payload"]["summary"]) == 1024
    assert vendor.incidents == {trigger["dedup_key"]: "resolved"}
    assert resolve["dedup_key"] == trigger["dedup_key"]
