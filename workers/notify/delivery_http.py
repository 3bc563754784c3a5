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
from workers.notify.payloads import RenderedPayload, render
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
        receiver = self._receiver
        pagerduty = receiver.format == "pagerduty"
        payload = render(
            receiver.format,
            firing,
            now=now,
            external_url=self._external_url,
            receiver=receiver.name,
            routing_key=self._secret if pagerduty else None,
        )
        return payload.body, self.headers(message_id, payload, now)

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
            body, headers = self.request(message_id, firing, at)
        except ValueError as exc:
            return Attempt(at=at, duration=0.0, error=f"cannot render: {exc}", permanent=True)
        return await self.post(body, headers, at)

    async def post(self, body: bytes, headers: dict[str, str], at: float) -> Attempt:
        """POST one body to the receiver's URL; every outcome becomes an Attempt."""
        started = time.monotonic()
        try:
            return await self._post(body, headers, at, started)
        except TimeoutError:
            error = f"timeout after {self._receiver.timeout:g}s"
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {one_line(str(exc))}"[:DETAIL_MAX]
        return Attempt(at=at, duration=time.monotonic() - started, error=error)

    async def _post(
        self, body: bytes, headers: dict[str, str], at: float, started: float
    ) -> Attempt:
        timeout = aiohttp.ClientTimeout(total=self._receiver.timeout)
        async with self._session.post(
            self.url,
            data=body,
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
        ) as resp:
            detail = "" if resp.status < 300 else await _gist(resp)
            return Attempt(
                at=at,
                duration=time.monotonic() - started,
                status=resp.status,
                retry_after=retry_after_seconds(resp.headers, self._clock()),
                detail=detail,
            )


async def _gist(resp: aiohttp.ClientResponse) -> str:
    """The start of an error response, on one line (never the whole body)."""
    try:
        chunk = await resp.content.read(DETAIL_MAX * 4)
    except (aiohttp.ClientError, TimeoutError):
        return ""
    return one_line(chunk.decode("utf-8", "replace"))[:DETAIL_MAX]
