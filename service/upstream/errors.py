"""Upstream failures as exceptions whose message says where the problem is and what to do.

Pure: builds errors from a status, a raw body and headers; the client does the I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from service.upstream.connection import REQUEST_ID_HEADERS
from service.upstream.policy import retry_after_seconds

_SNIPPET = 200
_ACTIONS = frozenset({"pause", "resume", "cancel"})


class UpstreamError(Exception):
    """A call to the upstream API failed; `retryable` says whether trying again may help."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        type: str | None = None,  # the envelope's name, as callers know it
        endpoint: str = "",
        where: str = "",
        job_id: str | None = None,
        request_id: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.type = type
        self.endpoint = endpoint
        self.where = where
        self.job_id = job_id
        self.request_id = request_id
        self.retryable = retryable
        self.retry_after = retry_after
        self.attempts = 1
        self.request_header = "x-request-id"

    def __str__(self) -> str:
        text = self.message
        if self.attempts > 1:
            text += f" (gave up after {self.attempts} attempts)"
        if self.request_id:
            text += f" [{self.request_header} {self.request_id}]"
        return text


class BadRequest(UpstreamError):
    """400/409/422: upstream refused the request as it stands (e.g. pausing a paused job)."""


class Unauthorized(UpstreamError):
    """401/403: the key is missing, wrong, or lacks access."""


class NotFound(UpstreamError):
    """404: no such job (or a wrong OPENAI_BASE_URL)."""


class QuotaExceeded(UpstreamError):
    """429 insufficient_quota: billing, never retried."""


class RateLimited(UpstreamError):
    """429 rate_limit_exceeded: transient; the whole client slows down."""


class Unavailable(UpstreamError):
    """5xx, 408, timeouts, connection failures or unreadable bodies."""


@dataclass(frozen=True)
class ErrorBody:
    """The fields of OpenAI's `{"error": {message, type, param, code}}` envelope."""

    message: str
    type: str | None = None
    code: str | None = None
    param: str | None = None


def snippet(text: str, limit: int = _SNIPPET) -> str:
    """One line of at most `limit` characters, for messages and logs."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def parse_error_body(raw: bytes) -> ErrorBody:
    """Read the error envelope; any other body (HTML, text, empty) becomes the message."""
    text = raw.decode("utf-8", errors="replace")
    try:
        payload: Any = json.loads(text)
    except ValueError:
        return ErrorBody(message=snippet(text) or "(empty body)")
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return ErrorBody(message=snippet(text) or "(empty body)")
    return ErrorBody(
        message=snippet(_text(error.get("message")) or "(no message)"),
        type=_text(error.get("type")),
        code=_text(error.get("code")),
        param=_text(error.get("param")),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def describe_invalid(exc: Exception) -> str:
    """Say what is wrong with data without echoing its values (they may be large or secret)."""
    if isinstance(exc, ValidationError):
        parts = [
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        ]
        return snippet("; ".join(parts))
    return snippet(f"{type(exc).__name__}: {exc}")


def is_quota(body: ErrorBody) -> bool:
    return "insufficient_quota" in (body.type, body.code)


def _retryable(status: int, headers: Mapping[str, str]) -> bool:
    flag = headers.get("x-should-retry", "").lower()
    if flag in ("true", "false"):
        return flag == "true"
    # The set openai-python retries: timeouts, lock conflicts, rate limits, server errors.
    return status in (408, 409, 429) or status >= 500


@dataclass(frozen=True)
class EnvNames:
    """Whether a key is set, and the env vars that would fix a failing call (for advice)."""

    key_set: bool = True
    key_env: str = "OPENAI_API_KEY"
    url_env: str = "OPENAI_BASE_URL"
    url_hint: str = "it usually ends in /v1"


def _request_id(headers: Mapping[str, str]) -> tuple[str, str] | None:
    # OpenAI names a request in x-request-id, Azure in apim-request-id (SPEC §4.2).
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return name, value
    return None


def error_from_response(
    status: int,
    raw: bytes,
    headers: Mapping[str, str],
    *,
    endpoint: str,
    where: str,
    job_id: str | None,
    names: EnvNames,
    max_retry_after: float,
    now: float,
) -> UpstreamError:
    """The error for a non-2xx answer: class, message with advice, and whether to retry."""
    body = parse_error_body(raw)
    quota = status == 429 and is_quota(body)
    retryable = not quota and _retryable(status, headers)
    wait = retry_after_seconds(headers, now) if retryable else None
    too_long = wait is not None and wait > max_retry_after
    cls, message = _classify(
        status, body, where=where, job_id=job_id, endpoint=endpoint, names=names
    )
    if too_long:
        message += f"; it asks to wait {wait:.0f}s, more than {max_retry_after:.0f}s: not retried"
    found = _request_id(headers)
    error = cls(
        message,
        status=status,
        code=body.code,
        type=body.type,
        endpoint=endpoint,
        where=where,
        job_id=job_id,
        request_id=found[1] if found else None,
        retryable=retryable and not too_long,
        retry_after=wait,
    )
    if found:
        error.request_header = found[0]
    return error


def _classify(
    status: int, body: ErrorBody, *, where: str, job_id: str | None, endpoint: str, names: EnvNames
) -> tuple[type[UpstreamError], str]:
    said = f"upstream said: {body.message}"
    if status in (401, 403):
        return Unauthorized, f"{_auth_problem(status, names, where)}; {said}"
    if status == 404:
        hint = (
            f"check the job id {job_id} and that the key's project owns it"
            if job_id
            else f"check {names.url_env} ({names.url_hint})"
        )
        return NotFound, f"upstream found nothing (404) at {where}: {hint}; {said}"
    if status in (400, 409, 422):
        hint = "; re-read the job's status and reconcile" if endpoint in _ACTIONS else ""
        return BadRequest, f"upstream refused the request ({status}) at {where}{hint}; {said}"
    if status == 429:
        return _classify_429(body, where)
    if status == 408 or status >= 500:
        return Unavailable, f"upstream failed ({status}) at {where}, usually transient; {said}"
    return UpstreamError, f"upstream answered {status} at {where}; {said}"


def _auth_problem(status: int, names: EnvNames, where: str) -> str:
    if status == 403:
        return f"upstream refused access (403) at {where}: the key lacks access to this job"
    if not names.key_set:
        return f"upstream needs an API key (401) at {where}: {names.key_env} is not set, set it"
    return f"upstream rejected {names.key_env} (401) at {where}: check the key"


def _classify_429(body: ErrorBody, where: str) -> tuple[type[UpstreamError], str]:
    if is_quota(body):
        return QuotaExceeded, (
            f"upstream quota exhausted (429 insufficient_quota) at {where}: add credit or raise "
            f"the project's budget; not retried; upstream said: {body.message}"
        )
    return RateLimited, (
        f"upstream rate limit (429) at {where}: ftwatch slows down; if it persists, watch fewer "
        f"jobs or raise FTWATCH_POLL_INTERVAL; upstream said: {body.message}"
    )


def transport_error(
    code: str,
    detail: str,
    *,
    endpoint: str,
    where: str,
    job_id: str | None,
    url_env: str = "OPENAI_BASE_URL",
) -> Unavailable:
    """Timeouts (`timeout`), connection failures (`connection`), unreadable bodies (`malformed`)."""
    advice = {
        "timeout": f"upstream did not answer {where} in time ({detail}): check {url_env} is "
        "reachable or raise FTWATCH_UPSTREAM_TIMEOUT",
        "connection": f"cannot reach upstream for {where} ({detail}): check {url_env} and "
        "the network",
        "malformed": f"upstream sent an unreadable body at {where} ({detail}): a truncated answer "
        "or a proxy page; retried",
    }[code]
    return Unavailable(
        advice, code=code, endpoint=endpoint, where=where, job_id=job_id, retryable=True
    )
