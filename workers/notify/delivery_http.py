"""Send one attempt: POST the rendered, signed body to a receiver, or log it (`log`).

A sender never raises for what the receiver does: every outcome becomes an Attempt.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import aiohttp
import structlog

from service.models.firing import Firing
from service.upstream.policy import retry_after_seconds
from workers.notify.delivery import DETAIL_MAX, Attempt
from workers.notify.message import one_line, summary_line
from workers.notify.payloads import RenderedPayload, error_detail, render
from workers.notify.payloads.pagerduty import CHANGE_PATH, EVENTS_PATH
from workers.notify.signing import HEADER_ID, sign
from workers.rules.config import Receiver

log = structlog.get_logger(__name__)

USER_AGENT = "ftwatch-webhooks/1"


class Sender(Protocol):
    """Makes one attempt to deliver a message."""

    format: str

    async def send(self, message_id: str, firing: Firing) -> Attempt: ...


class LogSender:
    """The built-in `log` receiver: one readable line per notification, at info."""

    format = "log"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    async def send(self, message_id: str, firing: Firing) -> Attempt:
        log.info(
            "notification",
            line=summary_line(firing),
            receiver="log",
            job_id=firing.job.id,
            rule=firing.rule,
            webhook_id=message_id,
        )
        return Attempt(at=self._clock(), duration=0.0)


class HttpSender:
    """POSTs to one receiver over the process's shared client session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        receiver: Receiver,
        secret: str | None,
        *,
        external_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._receiver = receiver
        self._secret = secret
        self._external_url = external_url
        self._clock = clock
        self.format: str = receiver.format
        self.url = receiver.url  # where attempts go (a format may add a path)

    def request(self, message_id: str, firing: Firing, now: float) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one attempt (signed at `now`); ValueError if unrenderable."""
        payload = self.render(firing, now)
        return payload.body, self.headers(message_id, payload, now)

    def render(self, firing: Firing, now: float) -> RenderedPayload:
        """The firing in the receiver's format; ValueError if it cannot be rendered."""
        receiver = self._receiver
        pagerduty = receiver.format == "pagerduty"
        return render(
            receiver.format,
            firing,
            now=now,
            external_url=self._external_url,
            receiver=receiver.name,
            routing_key=self._secret if pagerduty else None,
        )

    def headers(self, message_id: str, payload: RenderedPayload, now: float) -> dict[str, str]:
        """The headers of one attempt: the receiver's own, framing, id and signature."""
        receiver = self._receiver
        headers = {
            **receiver.headers,
            "Content-Type": payload.content_type,
            "User-Agent": USER_AGENT,
            **payload.extra_headers,
            HEADER_ID: message_id,
        }
        # PagerDuty's secret is its routing key, not a signing key; other formats sign
        # whenever a secret is configured (a proxy in front of Slack may verify it).
        if self._secret and receiver.format != "pagerduty":
            headers.update(sign(self._secret, message_id, int(now), payload.body))
        return headers

    async def send(self, message_id: str, firing: Firing) -> Attempt:
        at = self._clock()
        try:
            payload = self.render(firing, at)
        except ValueError as exc:
            return Attempt(at=at, duration=0.0, error=f"cannot render: {exc}", permanent=True)
        headers = self.headers(message_id, payload, at)
        return await self.post(payload.body, headers, at, url=target_url(self.url, payload.path))

    async def post(
        self, body: bytes, headers: dict[str, str], at: float, *, url: str | None = None
    ) -> Attempt:
        """POST one body to `url` (the receiver's); every outcome becomes an Attempt."""
        started = time.monotonic()
        try:
            return await self._post(url or self.url, body, headers, at, started)
        except TimeoutError:
            error = f"timeout after {self._receiver.timeout:g}s"
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {one_line(str(exc))}"[:DETAIL_MAX]
        return Attempt(at=at, duration=time.monotonic() - started, error=error)

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str], at: float, started: float
    ) -> Attempt:
        timeout = aiohttp.ClientTimeout(total=self._receiver.timeout)
        async with self._session.post(
            url,
            data=body,
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
        ) as resp:
            detail = "" if resp.status < 300 else await _gist(resp, self.format)
            return Attempt(
                at=at,
                duration=time.monotonic() - started,
                status=resp.status,
                retry_after=retry_after_seconds(resp.headers, self._clock()),
                detail=detail,
            )


def target_url(url: str, path: str) -> str:
    """`url` with a format's `path` appended; a URL that already ends with it is kept, so
    PagerDuty's full enqueue URL, copied from its docs, works as well as the events base."""
    if not path:
        return url
    base = url.rstrip("/")
    for known in (CHANGE_PATH, EVENTS_PATH):
        base = base.removesuffix(known)
    return base + path


async def _gist(resp: aiohttp.ClientResponse, format: str) -> str:
    """The receiver's own message in an error response, else its start, on one line."""
    try:
        chunk = await resp.content.read(DETAIL_MAX * 8)
    except (aiohttp.ClientError, TimeoutError):
        return ""
    text = chunk.decode("utf-8", "replace")
    return (error_detail(format, text) or one_line(text))[:DETAIL_MAX]
