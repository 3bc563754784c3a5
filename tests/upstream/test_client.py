"""UpstreamClient against a real scripted HTTP server: requests, paging, errors, logs."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from service.metrics import Metrics
from service.upstream.errors import (
    BadRequest,
    NotFound,
    Unauthorized,
    Unavailable,
    UpstreamError,
)
from tests.support import free_port
from tests.upstream.conftest import API_KEY, MakeClient
from tests.upstream.scripted import Reply, ScriptedUpstream


def job(job_id: str = "ftjob-1", status: str = "running") -> dict[str, Any]:
    return {"object": "fine_tuning.job", "id": job_id, "status": status, "model": "o4-mini"}


def event(event_id: str, step: int | None = None) -> dict[str, Any]:
    data = None if step is None else {"step": step, "train_loss": 1.0 / step}
    kind = "message" if step is None else "metrics"
    return {
        "object": "fine_tuning.job.event",
        "id": event_id,
        "created_at": 1700000000,
        "level": "info",
        "message": f"event {event_id}",
        "type": kind,
        "data": data,
    }


def page(items: list[dict[str, Any]], has_more: bool = False) -> dict[str, Any]:
    return {"object": "list", "data": items, "has_more": has_more}


def count(metrics: Metrics, endpoint: str, code: str) -> float:
    value = metrics.registry.get_sample_value(
        "ftwatch_upstream_requests_total",
        {"provider": "openai", "endpoint": endpoint, "code": code},
    )
    return value or 0.0


async def test_get_job_sends_the_key_and_records_success(
    upstream: ScriptedUpstream, make_client: MakeClient
) -> None:
    upstream.script("GET", "/fine_tuning/jobs/ftjob-1", Reply(body=job(status="paused")))
    client = make_client()
    assert client.last_success_at is None

    got = await client.get_job("ftjob-1")

    assert (got.id, got.status) == ("ftjob-1", "paused")
    assert upstream.seen[0].headers["Authorization"] == f"Bearer {API_KEY}"
    assert client.last_success_at is not None


async def test_without_a_key_no_header_is_sent_and_the_401_says_so(
    upstream: ScriptedUpstream, make_client: MakeClient
) -> None:
    upstream.script(
        "GET",
        "/fine_tuning/jobs",
        Reply(
            401,
            {
                "error": {
                    "message": "You didn't provide an API key.",
                    "type": "invalid_request_error",
                }
            },
        ),
    )
    client = make_client(openai_api_key=None)

    with pytest.raises(Unauthorized) as caught:
        await client.list_jobs()

    assert "Authorization" not in upstream.seen[0].headers
    assert "OPENAI_API_KEY is not set" in str(caught.value)
    assert "GET /fine_tuning/jobs" in str(caught.value)


async def test_events_page_backwards_with_after(
    upstream: ScriptedUpstream, make_client: MakeClient
) -> None:
    path = "/fine_tuning/jobs/ftjob-1/events"
    upstream.script(
        "GET",
        path,
        Reply(body=page([event("ev-4", 4), event("ev-3", 3)], has_more=True)),
        Reply(body=page([event("ev-2", 2), event("ev-1")], has_more=False)),
    )
    client = make_client()

    first = await client.list_events("ftjob-1", limit=2)
    second = await client.list_events("ftjob-1", after=first.last_id, limit=2)

    assert [e.id for e in first.events + second.events] == ["ev-4", "ev-3", "ev-2", "ev-1"]
    assert (first.has_more, second.has_more) == (True, False)
    queries = [s.query for s in upstream.requests("GET", path)]
    assert queries == [{"limit": "2"}, {"limit": "2", "after": "ev-3"}]


async def test_a_malformed_event_is_rejected_while_the_others_arrive(
    upstream: ScriptedUpstream, make_client: MakeClient
) -> None:
    broken = {**event("ev-bad"), "created_at": "yesterday", "message": "x" * 1000}
    last_broken = {"id": "ev-oldest", "level": "info"}  # no created_at
    upstream.script(
        "GET",
        "/fine_tuning/jobs/ftjob-1/events",
        Reply(body=page([event("ev-3", 3), broken, event("ev-1"), last_broken], has_more=True)),
    )

    got = await make_client().list_events("ftjob-1")

    assert [e.id for e in got.events] == ["ev-3", "ev-1"]
    assert got.positions == [0, 2]
    assert [(r.position, r.id) for r in got.rejected] == [(1, "ev-bad"), (3, "ev-oldest")]
    assert "created_at" in got.rejected[0].error
    assert len(got.rejected[0].raw) <= 200
    # Paging continues past the malformed oldest item.
    assert got.last_id == "ev-oldest"
    assert got.has_more


async def test_checkpoints_are_listed(upstream: ScriptedUpstream, make_client: MakeClient) -> None:
    checkpoint = {
        "object": "fine_tuning.job.checkpoint",
        "id": "ftckpt_2",
        "created_at": 1,
        "fine_tuned_model_checkpoint": "ft:o4-mini:ckpt-step-20",
        "fine_tuning_job_id": "ftjob-1",
        "step_number": 20,
        "metrics": {"step": 20, "train_loss": 0.5},
    }
    upstream.script("GET", "/fine_tuning/jobs/ftjob-1/checkpoints", Reply(body=page([checkpoint])))

    got = await make_client().list_checkpoints("ftjob-1", limit=5)

    assert [c.step_number for c in got.data] == [20]
    assert upstream.seen[0].query == {"limit": "5"}


async def test_iter_jobs_follows_the_cursor_and_stops_at_max_pages(
    upstream: ScriptedUpstream, make_client: MakeClient
) -> None:
    upstream.script(
        "GET",
        "/fine_tuning/jobs",
        Reply(body=page([job("ftjob-3"), job("ftjob-2")], has_more=True)),
        Reply(body=page([job("ftjob-1")], has_more=True)),
        Reply(body=page([job("ftjob-0")], has_more=False)),
    )
    client = make_client()

    got = [j.id async for j in client.iter_jobs(limit=2, max_pages=2)]

    assert got == ["ftjob-3", "ftjob-2", "ftjob-1"]
    assert [s.query.get("after") for s in upstream.seen] == [None, "ftjob-2"]


async def test_pause_posts_and_a_wrong_state_400_is_raised_once(
    upstream: ScriptedUpstream, make_client: MakeClient
) -> None:
    path = "/fine_tuning/jobs/ftjob-1/pause"
    upstream.script(
        "POST",
        path,
        Reply(body=job(status="paused")),
        Reply(
            400,
            {
                "error": {
                    "message": "Job is not running.",
                    "type": "invalid_request_error",
                    "code": None,
                }
            },
        ),
    )
    client = make_client()

    assert (await client.pause("ftjob-1")).status == "paused"
    with pytest.raises(BadRequest) as caught:
        await client.pause("ftjob-1")

    assert len(upstream.requests("POST", path)) == 2
    assert "Job is not running." in str(caught.value)
    assert "reconcile" in str(caught.value)
    assert (caught.value.status, caught.value.endpoint, caught.value.job_id) == (
        400,
        "pause",
        "ftjob-1",
    )


async def test_resume_and_cancel_post_to_their_paths(
    upstream: ScriptedUpstream, make_client: MakeClient
) -> None:
    upstream.script("POST", "/fine_tuning/jobs/ftjob-1/resume", Reply(body=job(status="queued")))
    upstream.script("POST", "/fine_tuning/jobs/ftjob-1/cancel", Reply(body=job(status="cancelled")))
    client = make_client()

    assert (await client.resume("ftjob-1")).status == "queued"
    assert (await client.cancel("ftjob-1")).is_terminal


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (401, Unauthorized, "rejected OPENAI_API_KEY (401) at GET /fine_tuning/jobs/ftjob-1"),
        (403, Unauthorized, "refused access (403)"),
        (404, NotFound, "check the job id ftjob-1"),
        (400, BadRequest, "refused the request (400)"),
        (422, BadRequest, "refused the request (422)"),
    ],
)
async def test_client_errors_raise_once_without_retry(
    upstream: ScriptedUpstream,
    make_client: MakeClient,
    status: int,
    error: type[Exception],
    words: str,
) -> None:
    upstream.script(
        "GET",
        "/fine_tuning/jobs/ftjob-1",
        Reply(
            status,
            {"error": {"message": "nope", "type": "invalid_request_error"}},
            headers={"x-request-id": "req_123"},
        ),
    )

    with pytest.raises(error) as caught:
        await make_client().get_job("ftjob-1")

    assert len(upstream.seen) == 1
    assert words in str(caught.value)
    assert "req_123" in str(caught.value)


async def test_a_non_json_error_body_still_gives_a_readable_error(
    upstream: ScriptedUpstream, make_client: MakeClient
) -> None:
    upstream.script("GET", "/fine_tuning/jobs", Reply(404, raw=b"<html><h1>Not Found</h1></html>"))

    with pytest.raises(NotFound) as caught:
        await make_client().list_jobs()

    assert "check OPENAI_BASE_URL" in str(caught.value)
    assert "Not Found" in str(caught.value)


async def test_an_unreachable_upstream_is_unavailable_after_retries(
    make_client: MakeClient,
) -> None:
    metrics = Metrics()
    client = make_client(openai_base_url=f"http://127.0.0.1:{free_port()}/v1", metrics=metrics)

    with pytest.raises(Unavailable) as caught:
        await client.list_jobs()

    assert caught.value.code == "connection"
    assert caught.value.attempts == 3
    assert count(metrics, "list_jobs", "connection") == 3
    assert client.last_success_at is None


async def test_a_job_id_cannot_escape_its_path(
    upstream: ScriptedUpstream, make_client: MakeClient
) -> None:
    with pytest.raises(UpstreamError):  # unscripted: 418
        await make_client().get_job("../files")

    assert upstream.seen[0].raw_path == "/v1/fine_tuning/jobs/..%2Ffiles"


async def test_the_api_key_never_reaches_logs_or_errors(
    upstream: ScriptedUpstream, make_client: MakeClient
) -> None:
    # A careless proxy echoes the Authorization header back in its error bodies.
    echo = {"error": {"message": f"bad key Bearer {API_KEY}", "type": "invalid_request_error"}}
    upstream.script("GET", "/fine_tuning/jobs/ftjob-1", Reply(401, echo))
    upstream.script("GET", "/fine_tuning/jobs/ftjob-2", *[Reply(500, echo)] * 3)
    client = make_client()

    with capture_logs() as logs:
        with pytest.raises(Unauthorized) as unauthorized:
            await client.get_job("ftjob-1")
        with pytest.raises(Unavailable) as unavailable:
            await client.get_job("ftjob-2")

    assert API_KEY not in repr(logs)
    assert API_KEY not in str(unauthorized.value) + str(unavailable.value)
    failures = [entry for entry in logs if entry["event"] == "upstream_call_failed"]
    assert [(f["job_id"], f["log_level"]) for f in failures] == [
        ("ftjob-1", "error"),
        ("ftjob-2", "warning"),
    ]
    assert failures[1]["attempts"] == 3
