"""Error envelope parsing and the status → exception mapping, with advice in the message."""

from __future__ import annotations

import json

import pytest

from service.upstream.errors import (
    BadRequest,
    EnvNames,
    NotFound,
    QuotaExceeded,
    RateLimited,
    Unauthorized,
    Unavailable,
    UpstreamError,
    error_from_response,
    parse_error_body,
    transport_error,
)


def envelope(
    message: str = "m", type_: str = "invalid_request_error", code: str | None = None
) -> bytes:
    return json.dumps(
        {"error": {"message": message, "type": type_, "param": None, "code": code}}
    ).encode()


def err(
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    endpoint: str = "get_job",
    job_id: str | None = "ftjob-1",
    key_set: bool = True,
) -> UpstreamError:
    return error_from_response(
        status,
        body or envelope(),
        headers or {},
        endpoint=endpoint,
        where="GET /fine_tuning/jobs/ftjob-1",
        job_id=job_id,
        names=EnvNames(key_set=key_set),
        max_retry_after=120.0,
        now=0.0,
    )


def test_the_envelope_is_read() -> None:
    body = parse_error_body(envelope("Could not find job", code="fine_tune_not_found"))

    assert (body.message, body.type, body.code) == (
        "Could not find job",
        "invalid_request_error",
        "fine_tune_not_found",
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"<html>\n  Bad   Gateway</html>", "<html> Bad Gateway</html>"),
        (b"", "(empty body)"),
        (b'{"detail": "x"}', '{"detail": "x"}'),
        (b"\xff\xfe", "\ufffd\ufffd"),
        (b'{"error": "flat string"}', '{"error": "flat string"}'),
    ],
)
def test_any_other_body_becomes_the_message(raw: bytes, message: str) -> None:
    assert parse_error_body(raw).message == message


def test_long_bodies_are_cut() -> None:
    assert len(parse_error_body(b"x" * 10_000).message) == 200


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, BadRequest, False),
        (401, Unauthorized, False),
        (403, Unauthorized, False),
        (404, NotFound, False),
        (408, Unavailable, True),
        (409, BadRequest, True),
        (410, UpstreamError, False),
        (422, BadRequest, False),
        (429, RateLimited, True),
        (500, Unavailable, True),
        (503, Unavailable, True),
    ],
)
def test_status_mapping(status: int, cls: type[UpstreamError], retryable: bool) -> None:
    error = err(status)

    assert type(error) is cls
    assert error.retryable is retryable
    assert error.status == status
    assert "GET /fine_tuning/jobs/ftjob-1" in str(error)


def test_the_401_message_names_the_key_and_what_to_do() -> None:
    assert str(err(401)).startswith(
        "upstream rejected OPENAI_API_KEY (401) at GET /fine_tuning/jobs/ftjob-1: check the key"
    )
    assert "OPENAI_API_KEY is not set" in str(err(401, key_set=False))


def test_insufficient_quota_is_its_own_class_and_never_retryable() -> None:
    body = envelope("You exceeded your current quota", "insufficient_quota", "insufficient_quota")

    error = err(429, body, {"retry-after": "1", "x-should-retry": "true"})

    assert isinstance(error, QuotaExceeded)
    assert not error.retryable


def test_request_id_and_retry_after_are_kept() -> None:
    error = err(429, headers={"x-request-id": "req_9", "retry-after": "3"})

    assert (error.request_id, error.retry_after) == ("req_9", 3.0)
    assert str(error).endswith("[x-request-id req_9]")


def test_a_retry_after_beyond_the_cap_is_not_retryable() -> None:
    error = err(503, headers={"retry-after": "121"})

    assert not error.retryable
    assert "more than 120s" in str(error)


def test_action_refusals_say_to_reconcile() -> None:
    assert "reconcile" in str(err(400, endpoint="pause"))
    assert "reconcile" not in str(err(400, endpoint="get_job"))


def test_a_404_without_a_job_points_at_the_base_url() -> None:
    assert "OPENAI_BASE_URL" in str(err(404, endpoint="list_jobs", job_id=None))


def test_transport_errors_are_retryable_and_say_what_to_check() -> None:
    error = transport_error(
        "connection", "refused", endpoint="list_jobs", where="GET /fine_tuning/jobs", job_id=None
    )

    assert isinstance(error, Unavailable)
    assert error.retryable and error.code == "connection"
    assert "check OPENAI_BASE_URL" in str(error)
