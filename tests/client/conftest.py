"""The client tests' fixtures: a real `ftwatch run` (`ftwatch`), and a real HTTP server on
127.0.0.1 that answers the client as ftwatch would, or badly (`receiver`).

`Receiver` records every request and answers from a script of behaviours (500, 429 with
Retry-After, slow, a decision in the ingest reply, a held long-poll), so the Reporter is
tested against real sockets, real timeouts and real refusals.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.client.e2e import running
from tests.support import FtwatchProcess, RedisServer, served


@pytest.fixture
async def ftwatch(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[FtwatchProcess]:
    """A real `ftwatch run` (role all) with the plateau rule of tests/client/e2e.py."""
    async with running(redis_server, tmp_path) as proc:
        yield proc


@dataclass
class Seen:
    method: str
    path: str
    body: Any
    at: float
    auth: str | None


@dataclass
class Receiver:
    """What the server saw, and how it answers next (the test edits these)."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)  # requests answered 2xx
    seen_all: list[Seen] = field(default_factory=list)  # every request, answered or not
    failures: list[int] = field(default_factory=list)  # statuses to answer first, in order
    retry_after: str | None = None
    delay: float = 0.0  # seconds before each ingest answer
    decisions: list[dict[str, Any]] = field(default_factory=list)  # carried by ingest replies
    poll_decision: asyncio.Event = field(default_factory=asyncio.Event)

    def ingested(self) -> list[dict[str, Any]]:
        """Every event of every batch stored (answered 200), in arrival order."""
        return [e for s in self.seen if s.path == "/v1/ingest/events" for e in s.body["events"]]

    def acks(self) -> list[Seen]:
        return [s for s in self.seen if s.path.endswith("/ack")]

    def attempts(self) -> list[Seen]:
        return [s for s in self.seen_all if s.path == "/v1/ingest/events"]


def _app(rx: Receiver) -> web.Application:
    async def ingest(request: web.Request) -> web.Response:
        body = json.loads(await request.text())
        seen = Seen(
            "POST", request.path, body, time.monotonic(), request.headers.get("Authorization")
        )
        rx.seen_all.append(seen)
        await asyncio.sleep(rx.delay)
        if rx.failures:
            status = rx.failures.pop(0)
            headers = {"Retry-After": rx.retry_after} if rx.retry_after else {}
            error = {"error": {"code": "test", "message": f"scripted {status}"}}
            return web.json_response(error, status=status, headers=headers)
        rx.seen.append(seen)
        reply = {"accepted": len(body["events"]), "duplicates": 0, "jobs": []}
        return web.json_response(reply | {"decisions": rx.decisions})

    async def decision(request: web.Request) -> web.Response:
        rx.seen_all.append(Seen("GET", request.path, dict(request.query), time.monotonic(), None))
        wait = float(request.query.get("wait", "0"))
        try:
            await asyncio.wait_for(rx.poll_decision.wait(), timeout=wait)
        except TimeoutError:
            return web.Response(status=204)
        if not rx.decisions:  # released by the fixture's teardown
            return web.Response(status=204)
        return web.json_response(rx.decisions[0])

    async def ack(request: web.Request) -> web.Response:
        body = json.loads(await request.text())
        rx.seen.append(Seen("POST", request.path, body, time.monotonic(), None))
        return web.json_response({"duplicate": False})

    app = web.Application()
    app.router.add_post("/v1/ingest/events", ingest)
    app.router.add_get("/v1/jobs/{job}/decision", decision)
    app.router.add_post("/v1/jobs/{job}/decision/{id}/ack", ack)
    return app


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rx = Receiver()
    async with served(_app(rx)) as url:
        rx.url = url
        yield rx
        rx.decisions.clear()
        rx.poll_decision.set()  # a held long-poll answers now: the server can stop
