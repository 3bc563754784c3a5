"""The chaos test's webhook receiver: verifies signatures, can be told to fail, keeps records.

It verifies each Standard Webhooks signature with the `standardwebhooks` package and
records every request with what it answered. A receiver *acts* on a request it
answered 2xx; one that deduplicates on `webhook-id` acts once per id.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

SECRET = "whsec_" + base64.b64encode(b"chaos-test-receiver-key-32-bytes").decode()
SLOW_SECONDS = 2.5  # longer than the receiver's 2 s timeout in the rules file


@dataclass(frozen=True)
class Arrival:
    """One request: its id, whether the signature held, what it said, what we answered."""

    webhook_id: str | None
    verified: bool
    type: str
    firing_id: str
    job_id: str
    rule: str
    status: int
    timed_out: bool = False  # answered after the sender's timeout: it retries, we acted
    at: float = field(default_factory=time.monotonic)

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


class ChaosReceiver:
    """POST /ops: 200, unless an outage mode (500, 503, 429, slow) is on."""

    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self.mode: str | None = None
        self.failed_answers = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/ops", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            Webhook(SECRET).verify(body, dict(request.headers))
            verified = True
        except WebhookVerificationError:
            verified = False
        mode = self.mode
        status = 200 if mode in (None, "slow") else int(mode)
        if mode == "slow":
            await asyncio.sleep(SLOW_SECONDS)  # the sender gives up; we still act on it
        arrival = _arrival(request.headers.get("webhook-id"), verified, body, status)
        self.arrivals.append(replace(arrival, timed_out=mode == "slow"))
        if status >= 300:
            self.failed_answers += 1
        headers = {"Retry-After": "1"} if status == 429 else {}
        return web.json_response({"status": status}, status=status, headers=headers)

    def accepted(self) -> list[Arrival]:
        return [a for a in self.arrivals if a.accepted and a.verified]

    def duplicate_ids(self) -> tuple[int, int]:
        """Extra 2xx answers for a webhook-id already accepted (harmless to a receiver that
        dedupes), and how many of them followed an answer the sender had given up on."""
        counts: Counter[str | None] = Counter()
        after_timeout = 0
        timed_out: set[str | None] = set()
        for a in self.accepted():
            counts[a.webhook_id] += 1
            after_timeout += counts[a.webhook_id] > 1 and a.webhook_id in timed_out
            if a.timed_out:
                timed_out.add(a.webhook_id)
        return sum(n - 1 for n in counts.values()), after_timeout

    def acted_twice(self) -> int:
        """Notices accepted under more than one webhook-id: even a deduping receiver acts twice."""
        ids: dict[tuple[str, str, str], set[str | None]] = {}
        for a in self.accepted():
            ids.setdefault((a.type, a.firing_id, a.job_id), set()).add(a.webhook_id)
        return sum(len(found) - 1 for found in ids.values())


def _arrival(webhook_id: str | None, verified: bool, body: bytes, status: int) -> Arrival:
    try:
        payload: Any = json.loads(body)
        data = payload.get("data") or {}
        return Arrival(
            webhook_id=webhook_id,
            verified=verified,
            type=str(payload.get("type")),
            firing_id=str(data.get("firing_id")),
            job_id=str((data.get("job") or {}).get("id")),
            rule=str(data.get("rule")),
            status=status,
        )
    except (ValueError, AttributeError):
        return Arrival(webhook_id, False, "unreadable", "", "", "", status)
