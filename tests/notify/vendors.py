"""PagerDuty's Events API v2 and a Slack incoming webhook as real HTTP servers on 127.0.0.1.

Each judges every body as the vendor would (tests/notify/judges.py) and answers as the
vendor documents: PagerDuty 202 `{status, message, dedup_key}` or 400 `{status, message,
errors}`, Slack 200 `ok` or 400 `invalid_blocks`. Scripted statuses (429 with Retry-After,
5xx) come first. Each records what arrived, when (its own monotonic clock), and PagerDuty
keeps the incidents open by dedup_key as its alerts would be.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.notify.judges import pagerduty_problems, slack_problems
from tests.support import served


@dataclass
class Received:
    """One request as the vendor saw it, and what it answered."""

    path: str
    body: Any
    status: int
    webhook_id: str | None = None  # ftwatch's message id (the same on every retry)
    at: float = field(default_factory=time.monotonic)


@dataclass
class Scripted:
    """Statuses to answer first, in turn (with `headers`), before judging bodies."""

    statuses: list[int] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    def next_status(self) -> int | None:
        return self.statuses.pop(0) if self.statuses else None

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]


@dataclass
class PagerDuty(Scripted):
    """Events API v2: `/v2/enqueue` (alerts) and `/v2/change/enqueue` (change events)."""

    incidents: dict[str, str] = field(default_factory=dict)  # dedup_key -> triggered|resolved

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        scripted = self.next_status()
        if scripted is not None:
            self.received.append(Received(request.path, body, scripted))
            return web.json_response({"status": "throttled"}, status=scripted, headers=self.headers)
        problems = pagerduty_problems(request.path, body)
        status = 400 if problems else 202
        self.received.append(Received(request.path, body, status))
        if problems:
            answer = {"status": "invalid event", "message": "Event object is invalid"}
            return web.json_response({**answer, "errors": problems}, status=400)
        return web.json_response(self._apply(body), status=202)

    def _apply(self, body: dict[str, Any]) -> dict[str, Any]:
        key = body.get("dedup_key")
        action = body.get("event_action")
        if key and action == "trigger":
            self.incidents[key] = "triggered"
        elif key and action == "resolve" and self.incidents.get(key) == "triggered":
            self.incidents[key] = "resolved"  # resolving no open alert is dropped, not an error
        return {"status": "success", "message": "Event processed", "dedup_key": key}


@dataclass
class Slack(Scripted):
    """An incoming webhook at `/hook`."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        message_id = request.headers.get("webhook-id")
        scripted = self.next_status()
        if scripted is not None:
            self.received.append(Received(request.path, body, scripted, message_id))
            return web.Response(text="rate_limited", status=scripted, headers=self.headers)
        problems = slack_problems(body)
        status = 400 if problems else 200
        self.received.append(Received(request.path, body, status, message_id))
        return web.Response(text="invalid_blocks" if problems else "ok", status=status)


@asynccontextmanager
async def serving(vendor: PagerDuty | Slack) -> AsyncIterator[str]:
    """The vendor on a free port; yields its base URL."""
    async with served(vendor.app()) as url:
        yield url
