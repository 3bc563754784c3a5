"""The upstream client: the OpenAI fine-tuning endpoints ftwatch uses, with retries and metrics.

One aiohttp session per process is passed in. Every attempt waits for the shared Throttle
(a 429 slows the whole client) and the optional request budget, then is counted in
`ftwatch_upstream_requests_total{endpoint,code}`.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import aiohttp
import structlog
from tenacity import AsyncRetrying, RetryCallState, RetryError, stop_after_attempt
from tenacity import retry_if_exception as retry_if

from service.metrics import Metrics
from service.settings import Settings
from service.upstream.calllog import log_failure, log_retry
from service.upstream.connection import Connection, openai_connection
from service.upstream.errors import (
    EnvNames,
    RateLimited,
    UpstreamError,
    describe_invalid,
    error_from_response,
    transport_error,
)
from service.upstream.models import Checkpoint, Job, Page
from service.upstream.pages import EventPage, RejectedEvent, parse_event_page
from service.upstream.policy import RetryPolicy, exhausted_for
from service.upstream.throttle import Throttle

__all__ = ["Budget", "Endpoint", "EventPage", "RejectedEvent", "UpstreamClient"]

Endpoint = Literal[
    "list_jobs",
    "get_job",
    "list_events",
    "list_checkpoints",
    "list_metrics",
    "pause",
    "resume",
    "cancel",
]
Budget = Callable[[], Awaitable[None]]
R = TypeVar("R")


@dataclass(frozen=True)
class _Request:
    endpoint: Endpoint
    method: str
    path: str
    job_id: str | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.method} {self.path}"


class UpstreamClient:
    """Typed calls to `OPENAI_BASE_URL`; raises `UpstreamError` subclasses (errors.py)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: Settings,
        metrics: Metrics,
        *,
        connection: Connection | None = None,
        throttle: Throttle | None = None,
        budget: Budget | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._session = session
        self.connection = conn = connection or openai_connection(settings)
        self._base = conn.base_url.rstrip("/")
        self._key = conn.secret.encode()
        self._headers = {"Accept": "application/json", "User-Agent": "ftwatch", **conn.headers}
        self._query = dict(conn.params)
        self._timeout = aiohttp.ClientTimeout(total=settings.upstream_timeout)
        self._max_attempts = settings.upstream_max_attempts
        self._metrics = metrics
        self._budget = budget
        self.throttle = throttle or Throttle()
        self.policy = policy or RetryPolicy()
        self.last_success_at: float | None = None  # time.monotonic() of the last 2xx answer

    async def list_jobs(self, after: str | None = None, limit: int = 100) -> Page[Job]:
        params = _params(after=after, limit=limit)
        req = _Request("list_jobs", "GET", "/fine_tuning/jobs", params=params)
        return await self._call(req, Page[Job].model_validate)

    async def iter_jobs(self, limit: int = 100, max_pages: int = 100) -> AsyncIterator[Job]:
        """Every job the key can list, newest first, reading at most `max_pages` pages."""
        after: str | None = None
        for _ in range(max_pages):
            page = await self.list_jobs(after=after, limit=limit)
            for job in page.data:
                yield job
            # A cursor that does not move would loop forever: stop as if at the end.
            if not page.has_more or not page.data or page.data[-1].id == after:
                return
            after = page.data[-1].id
        structlog.get_logger(__name__).warning(
            "upstream_job_listing_truncated", max_pages=max_pages, limit=limit
        )

    async def get_job(self, job_id: str) -> Job:
        req = _Request("get_job", "GET", _job_path(job_id), job_id)
        return await self._call(req, Job.model_validate)

    async def list_events(
        self, job_id: str, after: str | None = None, limit: int = 100
    ) -> EventPage:
        """One page of events, newest first; `after` pages to OLDER events."""
        params = _params(after=after, limit=limit)
        req = _Request("list_events", "GET", _job_path(job_id, "/events"), job_id, params)
        return await self._call(req, parse_event_page)

    async def list_checkpoints(
        self, job_id: str, limit: int = 10, after: str | None = None
    ) -> Page[Checkpoint]:
        params = _params(after=after, limit=limit)
        path = _job_path(job_id, "/checkpoints")
        req = _Request("list_checkpoints", "GET", path, job_id, params)
        return await self._call(req, Page[Checkpoint].model_validate)

    # pause/resume/cancel are retried on 5xx and timeouts like reads: at the API level they
    # are idempotent in effect. If a first attempt did land, the retry gets a 400 ("not
    # running"), raised as BadRequest, and the caller reconciles by re-reading the job.
    async def pause(self, job_id: str) -> Job:
        return await self._action("pause", job_id)

    async def resume(self, job_id: str) -> Job:
        return await self._action("resume", job_id)

    async def cancel(self, job_id: str) -> Job:
        return await self._action("cancel", job_id)

    async def _action(self, endpoint: Literal["pause", "resume", "cancel"], job_id: str) -> Job:
        req = _Request(endpoint, "POST", _job_path(job_id, f"/{endpoint}"), job_id)
        return await self._call(req, Job.model_validate)

    async def call(
        self,
        endpoint: Endpoint,
        method: str,
        path: str,
        parse: Callable[[Any], R],
        *,
        job_id: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> R:
        """Any call under the base URL, with this client's retries, throttle and metrics:
        for providers whose paths are not OpenAI's (e.g. Together's `/fine-tunes`)."""
        req = _Request(endpoint, method, path, job_id, dict(params or {}))
        return await self._call(req, parse)

    async def _call(self, req: _Request, parse: Callable[[Any], R]) -> R:
        try:
            return await self._with_retries(req, parse)
        except UpstreamError as exc:
            log_failure(req.endpoint, req.job_id, exc)
            raise

    async def _with_retries(self, req: _Request, parse: Callable[[Any], R]) -> R:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if(lambda exc: isinstance(exc, UpstreamError) and exc.retryable),
            before_sleep=lambda state: log_retry(req.endpoint, req.job_id, state),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(req, parse, attempt.retry_state.attempt_number)
        except RetryError as exc:
            raise _gave_up(exc, self._max_attempts) from None
        raise AssertionError("retry loop ended without an outcome")  # pragma: no cover

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited):
            return 0.0  # the throttle, set when the 429 arrived, holds the next attempt
        if isinstance(exc, UpstreamError) and exc.retry_after is not None:
            return exc.retry_after
        return self.policy.backoff(state.attempt_number)

    async def _attempt(self, req: _Request, parse: Callable[[Any], R], attempt: int) -> R:
        await self.throttle.wait()
        if self._budget is not None:
            await self._budget()
        started = time.perf_counter()
        try:
            status, headers, body = await self._send(req)
        except UpstreamError as exc:
            self._observe(req, exc.code or "connection", started)  # timeout|connection|malformed
            raise
        if not 200 <= status < 300:
            self._observe(req, str(status), started)
            raise self._status_error(req, status, headers, body, attempt)
        try:
            result = parse(json.loads(body))
        except ValueError as exc:  # bad JSON or a shape pydantic refuses (a ValueError too)
            self._observe(req, "malformed", started)
            raise self._transport(req, "malformed", describe_invalid(exc)) from None
        self._observe(req, str(status), started)
        self.last_success_at = time.monotonic()
        self._spent(headers)
        return result

    def _spent(self, headers: Mapping[str, str]) -> None:
        # The window's last request is spent: hold the next calls until it resets, as the
        # vendor's headers say (Together's x-ratelimit-*), instead of earning a 429.
        hold = exhausted_for(headers, time.time())
        if hold is not None:
            self.throttle.block_for(min(hold, self.policy.max_retry_after))

    async def _send(self, req: _Request) -> tuple[int, Mapping[str, str], bytes]:
        try:
            async with self._session.request(
                req.method,
                self._base + req.path,
                params={**self._query, **req.params},
                headers=self._headers,
                timeout=self._timeout,
            ) as resp:
                return resp.status, resp.headers, await resp.read()
        except TimeoutError:
            detail = f"no answer within {self._timeout.total:g}s"
            raise self._transport(req, "timeout", detail) from None
        except aiohttp.ClientPayloadError as exc:  # body cut short mid-transfer
            raise self._transport(req, "malformed", str(exc)) from None
        except aiohttp.InvalidURL as exc:
            msg = f"{self.connection.url_env} gives an invalid URL for {req.where}: {exc}"
            raise UpstreamError(
                msg, code="connection", endpoint=req.endpoint, where=req.where, job_id=req.job_id
            ) from None
        except aiohttp.ClientError as exc:
            detail = f"{type(exc).__name__}: {exc}"
            raise self._transport(req, "connection", detail) from None

    def _transport(self, req: _Request, code: str, detail: str) -> UpstreamError:
        return transport_error(
            code,
            self._redact(detail),
            endpoint=req.endpoint,
            where=req.where,
            job_id=req.job_id,
            url_env=self.connection.url_env,
        )

    def _status_error(
        self, req: _Request, status: int, headers: Mapping[str, str], body: bytes, attempt: int
    ) -> UpstreamError:
        error = error_from_response(
            status,
            self._redact_bytes(body),
            headers,
            endpoint=req.endpoint,
            where=req.where,
            job_id=req.job_id,
            names=EnvNames(
                bool(self._key),
                self.connection.key_env,
                self.connection.url_env,
                self.connection.url_hint,
            ),
            max_retry_after=self.policy.max_retry_after,
            now=time.time(),
        )
        if isinstance(error, RateLimited):
            # The key's limit is shared by every call: hold them all, not just this one.
            # A wait beyond the cap is surfaced, and still holds calls for the cap.
            wait = error.retry_after or self.policy.backoff(attempt)
            self.throttle.block_for(min(wait, self.policy.max_retry_after))
        return error

    def _observe(self, req: _Request, code: str, started: float) -> None:
        provider, elapsed = self.connection.provider, time.perf_counter() - started
        self._metrics.upstream_requests.labels(provider, req.endpoint, code).inc()
        self._metrics.upstream_duration.labels(provider, req.endpoint).observe(elapsed)

    def _redact(self, text: str) -> str:
        return text.replace(self._key.decode(), "***") if self._key else text

    def _redact_bytes(self, body: bytes) -> bytes:
        # An upstream (or a proxy) may echo the key back in an error body; never keep it.
        return body.replace(self._key, b"***") if self._key else body


def _params(*, after: str | None, limit: int) -> dict[str, str]:
    params = {"limit": str(limit)}
    if after is not None:
        params["after"] = after
    return params


def _job_path(job_id: str, suffix: str = "") -> str:
    if not job_id:
        raise ValueError("job_id must not be empty")
    # Quoted whole: an id from config must not reach another path ("../", "?", "/").
    return f"/fine_tuning/jobs/{quote(job_id, safe='')}{suffix}"


def _gave_up(exc: RetryError, attempts: int) -> BaseException:
    last = exc.last_attempt.exception()
    if isinstance(last, UpstreamError):
        last.attempts = attempts
        return last
    return last or exc
