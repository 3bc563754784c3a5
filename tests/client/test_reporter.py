"""Reporter against real HTTP servers on 127.0.0.1: healthy, unreachable, failing, slow."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TypeVar

import pytest
from ftwatch_client import Reporter

from tests.client.conftest import Receiver
from tests.support import eventually, free_port

JOB = "trl-run-7"
T = TypeVar("T")


def _reporter(url: str, **options: object) -> Reporter:
    return Reporter(url, "ingest-token", JOB, flush_interval=0.05, **options)  # type: ignore[arg-type]


def _warnings(caplog: pytest.LogCaptureFixture, word: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if word in r.getMessage()]


async def test_events_arrive_batched_in_order_with_the_jobs_facts(receiver: Receiver) -> None:
    reporter = _reporter(receiver.url, method="reinforcement", metadata={"team": "rl"})
    reporter.status("running")
    for step in range(1, 251):
        reporter.log(step, {"train_loss": 1.0 / step}, total_steps=250)
    assert await closed(reporter, 10)
    events = receiver.ingested()
    assert [e["data"]["step"] for e in events[1:]] == list(range(1, 251))
    assert events[0]["status"] == "running"
    assert len({e["event_id"] for e in events}) == 251
    assert {e["job_id"] for e in events} == {JOB}
    assert events[1]["data"] == {"step": 1, "train_loss": 1.0, "total_steps": 250}
    batches = [s for s in receiver.seen if s.path == "/v1/ingest/events"]
    assert 3 <= len(batches) < 251  # batched: at most 100 events a request
    assert all(b.body["events"][0]["method"] == "reinforcement" for b in batches)
    assert {b.auth for b in batches} == {"Bearer ingest-token"}


async def test_unreachable_ftwatch_costs_bounded_memory_and_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "ftwatch_client")
    reporter = _reporter(f"http://127.0.0.1:{free_port()}", max_queue=1000)
    for step in range(50_000):
        reporter.log(step, {"train_loss": 0.5, "learning_rate": 1e-5})
    await eventually(lambda: _value(reporter.failures >= 3), timeout=20, message="retries")
    assert reporter.queued <= 1000
    assert reporter.dropped >= 50_000 - 1000 - 100  # at most one batch is in flight
    assert len(_warnings(caplog, "unreachable")) == 1  # once per outage, not per batch
    started = time.monotonic()
    assert await closed(reporter, 1.0) is False  # could not send: says so, returns
    assert time.monotonic() - started < 5
    assert _warnings(caplog, "not sent at close")


async def test_failed_batches_are_retried_and_each_event_is_stored(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "ftwatch_client")
    receiver.failures = [500, 503, 500]
    reporter = _reporter(receiver.url)
    for step in range(20):
        reporter.log(step, {"train_loss": 0.1})
    await eventually(lambda: _value(len(receiver.ingested()) == 20), timeout=20)
    assert await closed(reporter, 5)
    assert [e["data"]["step"] for e in receiver.ingested()] == list(range(20))
    first, retried = receiver.attempts()[0], receiver.attempts()[-1]
    # A retry resends the same event ids, which ftwatch stores once.
    first_ids = [e["event_id"] for e in first.body["events"]]
    assert first_ids == [e["event_id"] for e in retried.body["events"]][: len(first_ids)]
    assert len(_warnings(caplog, "unreachable")) == 1
    assert len(_warnings(caplog, "reachable again")) == 1


async def test_429_retry_after_is_honoured(receiver: Receiver) -> None:
    receiver.failures, receiver.retry_after = [429], "1"
    reporter = _reporter(receiver.url)
    reporter.log(1, {"train_loss": 0.1})
    await eventually(lambda: _value(len(receiver.ingested()) == 1), timeout=10)
    refused, stored = receiver.attempts()
    assert stored.at - refused.at >= 0.95  # not before the server said
    assert await closed(reporter, 5)


async def test_a_slow_ftwatch_never_holds_the_training_loop(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "ftwatch_client")
    receiver.delay = 10.0  # far beyond the client's timeout
    reporter = _reporter(receiver.url, timeout=0.3, max_queue=500)

    def train() -> None:  # the training thread, while this loop serves the receiver
        for step in range(5000):
            reporter.log(step, {"train_loss": 0.1})

    await asyncio.to_thread(train)
    assert receiver.seen == []  # every call returned while ftwatch had answered nothing
    await eventually(lambda: _value(reporter.failures >= 2), timeout=20)
    assert len(_warnings(caplog, "unreachable")) == 1
    receiver.delay = 0.0

    def newest_stored() -> bool:  # the newest were kept, the oldest dropped
        return set(range(4500, 5000)) <= {e["data"]["step"] for e in receiver.ingested()}

    # Not `queued == 0`: that is true while the last batch is still on its way.
    await eventually(lambda: _value(newest_stored()), timeout=30, message="newest stored")
    assert reporter.queued == 0
    assert reporter.dropped > 0
    assert await closed(reporter, 5)


async def test_a_refused_batch_is_dropped_with_its_reason_and_sending_goes_on(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "ftwatch_client")
    receiver.failures = [422]
    reporter = _reporter(receiver.url)
    reporter.log(1, {"train_loss": 0.1})
    await eventually(lambda: _value(len(receiver.attempts()) == 1), timeout=10)
    reporter.log(2, {"train_loss": 0.1})
    assert await closed(reporter, 5)
    assert [e["data"]["step"] for e in receiver.ingested()] == [2]
    assert _warnings(caplog, "refused 1 events: HTTP 422: scripted 422")


async def test_a_decision_in_the_ingest_reply_is_handed_over_once_and_acked(
    receiver: Receiver,
) -> None:
    decision = {"id": "dec_1", "job_id": JOB, "action": "pause", "rule": "plateau", "reason": "r"}
    receiver.decisions = [decision, {**decision, "id": "dec_other", "job_id": "another-job"}]
    reporter = _reporter(receiver.url)
    reporter.log(1, {"valid_loss": 0.3})
    found = await eventually(lambda: _value(reporter.decision), timeout=10)
    assert found is not None
    assert (found.id, found.action, found.rule) == ("dec_1", "pause", "plateau")
    reporter.ack(found, "done", checkpoint="/ckpt/step-1.keras")
    assert reporter.decision is None
    reporter.log(2, {"valid_loss": 0.3})  # the reply repeats dec_1 until ftwatch saw the ack
    assert await closed(reporter, 5)
    assert reporter.decision is None  # acted on once
    (ack,) = receiver.acks()
    assert ack.path == f"/v1/jobs/{JOB}/decision/dec_1/ack"
    assert ack.body == {"outcome": "done", "checkpoint": "/ckpt/step-1.keras"}


async def test_the_long_poll_brings_a_decision_between_logs(receiver: Receiver) -> None:
    reporter = _reporter(receiver.url, decision_wait=5.0)
    reporter.log(1, {"train_loss": 0.3})  # the job exists once a batch was stored
    await eventually(lambda: _value(_polls(receiver) >= 1), timeout=10)
    receiver.decisions = [{"id": "dec_9", "job_id": JOB, "action": "cancel"}]
    receiver.poll_decision.set()
    found = await eventually(lambda: _value(reporter.decision), timeout=10)
    assert found is not None
    assert (found.id, found.action) == ("dec_9", "cancel")
    (poll,) = [s for s in receiver.seen_all if s.method == "GET"][:1]
    assert poll.path == f"/v1/jobs/{JOB}/decision" and poll.body == {"wait": "5"}
    await closed(reporter, 2)


def test_without_a_url_it_sends_nothing_and_costs_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FTWATCH_URL", raising=False)
    reporter = Reporter()
    reporter.log(1, {"train_loss": 0.1})
    assert (reporter.enabled, reporter.queued, reporter.decision) == (False, 0, None)
    assert reporter.close() is True


def test_configuration_comes_from_the_environment_and_bad_values_say_where(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FTWATCH_URL", "ftwatch:8080")
    with pytest.raises(ValueError, match="FTWATCH_URL"):
        Reporter()
    port = free_port()
    monkeypatch.setenv("FTWATCH_URL", f"http://127.0.0.1:{port}/")
    monkeypatch.setenv("FTWATCH_INGEST_TOKEN", "tok")
    monkeypatch.setenv("FTWATCH_JOB_ID", "my-run")
    reporter = Reporter()
    assert (reporter.url, reporter.token, reporter.job_id) == (
        f"http://127.0.0.1:{port}",
        "tok",
        "my-run",
    )
    reporter.close(timeout=0.5)
    with pytest.raises(ValueError, match="FTWATCH_JOB_ID / job_id='my run'"):
        Reporter(job_id="my run")
    with pytest.raises(ValueError, match="method='rl': must be one of"):
        Reporter(method="rl")
    with pytest.raises(ValueError, match="status='done'"):
        reporter.status("done")


async def closed(reporter: Reporter, timeout: float) -> bool:
    """`close` from a thread, as a training script calls it: this loop serves the receiver."""
    return await asyncio.to_thread(reporter.close, timeout)


def _polls(receiver: Receiver) -> int:
    return sum(1 for s in receiver.seen_all if s.method == "GET")


async def _value(value: T) -> T:
    """`eventually` polls coroutines: a value read now, as one."""
    return value


async def test_heartbeats_come_from_the_loops_progress_at_most_once_a_period(
    receiver: Receiver,
) -> None:
    reporter = _reporter(receiver.url, heartbeat=0.3)
    reporter.log(1, {"train_loss": 0.3})
    reporter.beat(2)  # an event just went out: no heartbeat yet

    async def beaten() -> bool:
        reporter.beat(3)  # what a callback does on every step
        return any(e.get("message") == "heartbeat" for e in receiver.ingested())

    await eventually(beaten, timeout=10)
    assert await closed(reporter, 5)
    beats = [e for e in receiver.ingested() if e.get("message") == "heartbeat"]
    assert beats[0]["data"] == {"step": 3} and beats[0]["type"] == "message"
    # Between two heartbeats lies at least the period (created_at has whole seconds).
    assert len(beats) <= 1 + (beats[-1]["created_at"] - beats[0]["created_at"]) / 0.3 + 1
