"""The demo's own webhook receiver: checks each notification's signature and prints it,
as a team's receiver would (SPEC §6)."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from typing import Any, TextIO

from aiohttp import web

from workers.notify.signing import HEADER_ID, WebhookVerificationError, verify


def new_secret() -> str:
    """A `whsec_` secret as Standard Webhooks writes them (base64 of random bytes)."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


@dataclass
class DemoReceiver:
    """Prints `NOTIFY …` for every genuine notification; refuses forged ones with 401."""

    secret: str
    out: TextIO
    received: list[str] = field(default_factory=list)  # each notification's type

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        return app

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            verify(self.secret, body, request.headers)
        except WebhookVerificationError:
            return web.Response(status=401, text="bad signature")
        payload = json.loads(body)
        self.received.append(str(payload.get("type")))
        self.out.write(notify_line(payload, request.headers.get(HEADER_ID, "?")) + "\n")
        return web.Response(status=204)


def notify_line(payload: dict[str, Any], msg_id: str) -> str:
    """`NOTIFY  ftwatch.rule.fired for ftjob-1 (reward-plateau): <reason>; signature ok`."""
    data = payload.get("data") or {}
    what = f"{payload.get('type')} for {data.get('job_id')} ({data.get('rule')})"
    return f"NOTIFY  {what}: {data.get('reason')}; signature ok ({msg_id})"
