"""A real webhook receiver on 127.0.0.1 for the delivery tests.

It verifies every Standard Webhooks signature with the `standardwebhooks` package (an
implementation independent of ours), answers what each endpoint is scripted to answer,
and records every request that arrived.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.support import served

SECRET = "whsec_" + base64.b64encode(b"delivery-test-key-32-bytes-long!").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another-test-key-32-bytes-long!!").decode()


@dataclass
class Arrival:
    """One request as the receiver saw it."""

    endpoint: str
    webhook_id: str | None
    verified: bool
    body: Any
    headers: dict[str, str]
    status: int  # what the receiver answered
    at: float = field(default_factory=time.monotonic)
    path: str = ""  # below the endpoint: `/v2/enqueue` of `/pd/v2/enqueue`


@dataclass
class Endpoint:
    """What one path answers: `statuses` in turn (then 200), optionally after a sleep."""

    secret: str | None = SECRET
    statuses: list[int] = field(default_factory=list)
    sleep: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)  # sent with scripted failures
    arrivals: list[Arrival] = field(default_factory=list)

    @property
    def delivered(self) -> list[Arrival]:
        """Arrivals answered 2xx: what the receiver actually accepted."""
        return [a for a in self.arrivals if 200 <= a.status < 300]


class WebhookReceiver:
    """Endpoints at `/<name>` (and any path below it), each with its own script and records."""

    def __init__(self) -> None:
        self.endpoints: dict[str, Endpoint] = {}
        self.base_url = ""

    def add(self, name: str, endpoint: Endpoint | None = None) -> str:
        self.endpoints[name] = endpoint or Endpoint()
        return f"{self.base_url}/{name}"

    def __getitem__(self, name: str) -> Endpoint:
        return self.endpoints[name]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{name}{path:(/.*)?}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        endpoint = self.endpoints[request.match_info["name"]]
        body = await request.read()
        verified = False
        if endpoint.secret is not None:
            try:
                Webhook(endpoint.secret).verify(body, dict(request.headers))
                verified = True
            except WebhookVerificationError:
                verified = False
        status = endpoint.statuses.pop(0) if endpoint.statuses else 200
        endpoint.arrivals.append(
            Arrival(
                endpoint=request.match_info["name"],
                webhook_id=request.headers.get("webhook-id"),
                verified=verified,
                body=json.loads(body),
                headers=dict(request.headers),
                status=status,
                path=request.match_info["path"],
            )
        )
        if endpoint.sleep:
            await asyncio.sleep(endpoint.sleep)
        headers = endpoint.headers if status >= 300 else {}
        return web.json_response({"status": status}, status=status, headers=headers)


async def serve_receiver() -> AsyncIterator[WebhookReceiver]:
    """A running receiver (use as a fixture body)."""
    receiver = WebhookReceiver()
    async with served(receiver.app()) as url:
        receiver.base_url = url
        yield receiver
