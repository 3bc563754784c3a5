"""UpstreamClient retries: 5xx, 429 with the client-wide throttle, quota, timeouts, bad bodies."""

from __future__ import annotations

import asyncio
import time
from email.utils import formatdate

import pytest

from service.metrics import Metrics
from service.upstream.errors import BadRequest, QuotaExceeded, RateLimited, Unavailable
from service.upstream.throttle import Throttle
from tests.support import eventually
from tests.upstream.conftest import FakeClock, MakeClient
from tests.upstream.scripted import Reply, ScriptedUpstream
from tests.upstream.test_client import count, event, job, page

JOB = "/fine_tuning/jobs/ftjob-1"
EVENTS = "/fine_tuning/jobs/ftjob-1/events"
RATE = {
    "error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}
}
QUOTA = {
    "error": {
        "message": "You exceeded your current quota",
        "type": "insufficient_quota",
        "code": "insufficient_quota",
    }
}
BOOM = {"error": {"message": "The server had an error", "type": "server_error"}}


async def test_500_twice_then_200_succeeds_and_every_attempt_is_counted(
    upstream: ScriptedUpstream, make_client: MakeClient
) -> None:
    upstream.script("GET", JOB, Reply(500, BOOM), Reply(500, BOOM), Reply(body=job()))
    metrics = Metrics()

    got = await make_client(metrics=metrics).get_job("ftjob-1")

    assert got.id == "ftjob-1"
    assert count(metrics, "get_job", "500") == 2
    assert count(metrics, "get_job", "200") == 1
    duration = metrics.registry.get_sample_value(
        "ftwatch_upstream_request_duration_seconds_count",
        {"provider": "openai", "endpoint": "get_job"},
    )
    assert duration == 3


async def test_5xx_on_every_attempt_ends_unavailable(
    upstream: ScriptedUpstream, make_client: MakeClient
) -> None:
    upstream.script("GET", JOB, *[Reply(503, BOOM)] * 3)

    with pytest.raises(Unavailable) as caught:
        await make_client().get_job("ftjob-1")

    assert len(upstream.seen) == 3
    assert "gave up after 3 attempts" in str(caught.value)
    assert caught.value.status == 503


async def test_pause_is_retried_on_502(upstream: ScriptedUpstream, make_client: MakeClient) -> None:
    upstream.script(
        "POST", f"{JOB}/pause", Reply(502, raw=b"Bad Gateway"), Reply(body=job(status="pausing"))
    )

    assert (await make_client().pause("ftjob-1")).status == "pausing"


async def test_409_is_retried_like_openai_python(
    upstream: ScriptedUpstream, make_client: MakeClient
) -> None:
    upstream.script("GET", JOB, Reply(409, BOOM), Reply(body=job()))

    assert (await make_client().get_job("ftjob-1")).id == "ftjob-1"


async def test_x_should_retry_false_stops_retries(
    upstream: ScriptedUpstream, make_client: MakeClient
) -> None:
    upstream.script("GET", JOB, Reply(503, BOOM, headers={"x-should-retry": "false"}))

    with pytest.raises(Unavailable):
        await make_client().get_job("ftjob-1")

    assert len(upstream.seen) == 1


async def test_x_should_retry_true_retries_even_a_400(
    upstream: ScriptedUpstream, make_client: MakeClient
) -> None:
    upstream.script(
        "GET", JOB, Reply(400, BOOM, headers={"x-should-retry": "true"}), Reply(body=job())
    )

    assert (await make_client().get_job("ftjob-1")).id == "ftjob-1"


async def test_a_429_holds_the_next_call_on_another_endpoint(
    upstream: ScriptedUpstream, make_client: MakeClient, clock: FakeClock
) -> None:
    upstream.script("GET", JOB, Reply(429, RATE, headers={"Retry-After": "1"}))
    upstream.script("GET", EVENTS, Reply(body=page([event("ev-1")])))
    client = make_client(upstream_max_attempts=1)

    with pytest.raises(RateLimited):
        await client.get_job("ftjob-1")
    assert clock.sleeps == []
    await client.list_events("ftjob-1")

    assert clock.sleeps == [1.0]  # the events call waited out the get_job's Retry-After
    assert [s.path for s in upstream.seen] == ["/v1" + JOB, "/v1" + EVENTS]


async def test_a_429_retry_waits_exactly_the_retry_after(
    upstream: ScriptedUpstream, make_client: MakeClient, clock: FakeClock
) -> None:
    upstream.script(
        "GET",
        JOB,
        Reply(429, RATE, headers={"retry-after-ms": "250", "Retry-After": "9"}),
        Reply(body=job()),
    )

    assert (await make_client().get_job("ftjob-1")).id == "ftjob-1"

    assert clock.sleeps == [0.25]  # retry-after-ms wins over Retry-After


async def test_calls_in_flight_elsewhere_also_wait_for_the_429(
    upstream: ScriptedUpstream, make_client: MakeClient
) -> None:
    gate = asyncio.Event()
    sleeps: list[float] = []

    async def held_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await gate.wait()
        now[0] += seconds

    now = [0.0]
    throttle = Throttle(clock=lambda: now[0], sleep=held_sleep)
    upstream.script("GET", JOB, Reply(429, RATE, headers={"Retry-After": "2"}), Reply(body=job()))
    upstream.script("GET", EVENTS, Reply(body=page([event("ev-1")])))
    client = make_client(throttle=throttle)

    retrying = asyncio.create_task(client.get_job("ftjob-1"))
    await eventually(lambda: _true(len(sleeps) == 1), message="get_job waits after its 429")
    other = asyncio.create_task(client.list_events("ftjob-1"))
    await eventually(lambda: _true(len(sleeps) == 2), message="list_events waits too")

    assert len(upstream.seen) == 1  # nothing was sent while the throttle was closed
    gate.set()
    await asyncio.gather(retrying, other)
    assert sleeps == [2.0, 2.0]
    assert len(upstream.seen) == 3


async def _true(value: bool) -> bool:
    return value


async def test_retry_after_as_an_http_date(
    upstream: ScriptedUpstream, make_client: MakeClient, clock: FakeClock
) -> None:
    when = formatdate(time.time() + 5, usegmt=True)
    upstream.script("GET", JOB, Reply(429, RATE, headers={"Retry-After": when}), Reply(body=job()))

    await make_client().get_job("ftjob-1")

    assert len(clock.sleeps) == 1
    assert 3.0 < clock.sleeps[0] <= 5.0


async def test_a_retry_after_beyond_the_cap_is_surfaced_not_waited(
    upstream: ScriptedUpstream, make_client: MakeClient, clock: FakeClock
) -> None:
    upstream.script("GET", JOB, Reply(429, RATE, headers={"Retry-After": "600"}))
    client = make_client()

    with pytest.raises(RateLimited) as caught:
        await client.get_job("ftjob-1")

    assert len(upstream.seen) == 1
    assert "600s" in str(caught.value)
    assert client.throttle.remaining() == 120.0  # other calls still slow down, up to the cap


async def test_insufficient_quota_is_never_retried(
    upstream: ScriptedUpstream, make_client: MakeClient, clock: FakeClock
) -> None:
    upstream.script("GET", JOB, *[Reply(429, QUOTA, headers={"Retry-After": "1"})] * 3)
    client = make_client()

    with pytest.raises(QuotaExceeded) as caught:
        await client.get_job("ftjob-1")

    assert len(upstream.seen) == 1
    assert "add credit" in str(caught.value)
    assert client.throttle.remaining() == 0.0


async def test_rate_limits_that_never_end_raise_rate_limited(
    upstream: ScriptedUpstream, make_client: MakeClient, clock: FakeClock
) -> None:
    upstream.script("GET", JOB, *[Reply(429, RATE)] * 3)  # no Retry-After: backoff

    with pytest.raises(RateLimited) as caught:
        await make_client().get_job("ftjob-1")

    assert caught.value.attempts == 3
    assert len(clock.sleeps) == 2  # before attempts 2 and 3


@pytest.mark.parametrize(
    "broken",
    [
        Reply(raw=b'{"object": "fine_tuning.job", "id": "ftj'),
        Reply(body=job(), cut=True),
        Reply(raw=b"<html>proxy error</html>"),
        Reply(body={"object": "fine_tuning.job"}),
    ],
    ids=["truncated-json", "connection-cut", "html", "no-id"],
)
async def test_an_unreadable_200_is_retried(
    upstream: ScriptedUpstream, make_client: MakeClient, broken: Reply
) -> None:
    upstream.script("GET", JOB, broken, Reply(body=job()))
    metrics = Metrics()

    assert (await make_client(metrics=metrics).get_job("ftjob-1")).id == "ftjob-1"

    assert count(metrics, "get_job", "malformed") == 1
    assert len(upstream.seen) == 2


async def test_a_timeout_is_retried_then_unavailable(
    upstream: ScriptedUpstream, make_client: MakeClient
) -> None:
    upstream.script("GET", JOB, *[Reply(body=job(), delay=10)] * 3)
    metrics = Metrics()

    with pytest.raises(Unavailable) as caught:
        await make_client(upstream_timeout=0.1, metrics=metrics).get_job("ftjob-1")

    assert caught.value.code == "timeout"
    assert "FTWATCH_UPSTREAM_TIMEOUT" in str(caught.value)
    assert count(metrics, "get_job", "timeout") == 3


async def test_the_budget_is_awaited_before_every_attempt(
    upstream: ScriptedUpstream, make_client: MakeClient
) -> None:
    spent: list[int] = []

    async def budget() -> None:
        spent.append(len(upstream.seen))

    upstream.script("GET", JOB, Reply(500, BOOM), Reply(body=job()))
    await make_client(budget=budget).get_job("ftjob-1")

    assert spent == [0, 1]  # each time before the request went out


async def test_a_bad_request_after_a_retried_pause_reaches_the_caller(
    upstream: ScriptedUpstream, make_client: MakeClient
) -> None:
    # The first pause landed but its answer was lost; the retry meets a paused job.
    upstream.script(
        "POST",
        f"{JOB}/pause",
        Reply(body=job(), delay=10),
        Reply(400, {"error": {"message": "Job is not running."}}),
    )

    with pytest.raises(BadRequest):
        await make_client(upstream_timeout=0.2).pause("ftjob-1")

    assert len(upstream.seen) == 2


async def test_a_429_with_only_x_ratelimit_reset_waits_that_long(
    upstream: ScriptedUpstream, make_client: MakeClient, clock: FakeClock
) -> None:
    limited = Reply(429, RATE, headers={"x-ratelimit-reset": "2", "x-ratelimit-remaining": "0"})
    upstream.script("GET", JOB, limited, Reply(body=job()))

    assert (await make_client().get_job("ftjob-1")).id == "ftjob-1"
    assert clock.sleeps == [2.0]


async def test_a_success_that_spends_the_window_holds_the_next_call_until_its_reset(
    upstream: ScriptedUpstream, make_client: MakeClient, clock: FakeClock
) -> None:
    spent = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "3"}
    upstream.script("GET", JOB, Reply(body=job(), headers=spent), Reply(body=job()))
    client = make_client()

    await client.get_job("ftjob-1")
    assert clock.sleeps == []
    await client.get_job("ftjob-1")

    assert clock.sleeps == [3.0]  # waited instead of earning a 429
