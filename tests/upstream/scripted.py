"""A scripted upstream on 127.0.0.1: per (method, path) a queue of replies, every request seen."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    """One scripted answer; `raw` is sent verbatim instead of `body` as JSON."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # answer this late (the test releases it early on teardown)
    cut: bool = False  # announce the full length, send half, drop the connection

    def payload(self) -> bytes:
        return self.raw if self.raw is not None else json.dumps(self.body).encode()


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    raw_path: str
    query: dict[str, str]
    headers: dict[str, str]


class ScriptedUpstream:
    """The fake: unscripted requests get 418 so a test fails loudly, not by a retry."""

    def __init__(self) -> None:
        self.replies: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self.seen: list[Seen] = []
        self.base_url = ""
        self._released = asyncio.Event()

    def script(self, method: str, path: str, *replies: Reply) -> None:
        self.replies[(method, "/v1" + path)].extend(replies)

    def requests(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        return [
            s
            for s in self.seen
            if (method is None or s.method == method) and (path is None or s.path == "/v1" + path)
        ]

    def release(self) -> None:
        self._released.set()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(
            Seen(
                request.method,
                request.path,
                request.raw_path,
                dict(request.query),
                dict(request.headers),
            )
        )
        queue = self.replies.get((request.method, request.path))
        if not queue:
            return web.json_response({"error": {"message": "unscripted"}}, status=418)
        reply = queue.popleft()
        if reply.delay:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), reply.delay)
        if reply.cut:
            return await _cut(request, reply)
        return web.Response(
            status=reply.status,
            body=reply.payload(),
            headers=reply.headers,
            content_type="application/json",
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ScriptedUpstream]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}/v1"
        try:
            yield self
        finally:
            self.release()
            await runner.cleanup()


async def _cut(request: web.Request, reply: Reply) -> web.StreamResponse:
    payload = reply.payload()
    response = web.StreamResponse(status=reply.status, headers=reply.headers)
    response.content_length = len(payload)
    response.content_type = "application/json"
    await response.prepare(request)
    await response.write(payload[: len(payload) // 2])
    assert request.transport is not None
    request.transport.close()
    return response
