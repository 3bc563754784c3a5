"""Completion announced by OpenAI webhooks, and a receiver for ftwatch's notifications."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time

import aiohttp
from aiohttp import web

from bench.probes import fetch_json
from workers.notify.signing import sign


class Receiver:
    """Records when each job's `ftwatch.job.finished` notification arrives."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("type") == "ftwatch.job.finished":
            self.arrived.setdefault(body["data"]["job"]["id"], time.time())
        return web.Response(status=204)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self.hook)
        return app


async def webhook_latencies(
    http: aiohttp.ClientSession,
    sim_url: str,
    *,
    ftwatch_url: str,
    secret: str,
    jobs: list[str],
    receiver: Receiver,
) -> list[float]:
    """Finish jobs upstream (no event says so), announce each by a signed OpenAI webhook."""
    sent: dict[str, float] = {}
    for index, job_id in enumerate(jobs):
        await fetch_json(
            http, "POST", f"{sim_url}/_sim/jobs/{job_id}/status", {"status": "succeeded"}
        )
        now = time.time()
        body = json.dumps(
            {
                "object": "event",
                "id": f"evt_bench{index}",
                "type": "fine_tuning.job.succeeded",
                "created_at": int(now),
                "data": {"id": job_id},
            }
        ).encode()
        headers = sign(secret, f"wh_bench{index}", int(now), body)
        headers["content-type"] = "application/json"
        async with http.post(
            f"{ftwatch_url}/v1/webhooks/openai", data=body, headers=headers
        ) as resp:
            answer = await resp.json()
            if resp.status != 200 or not answer.get("polled"):
                raise RuntimeError(f"ftwatch refused the webhook: {resp.status} {answer}")
            sent[job_id] = now
        await asyncio.sleep(0.2)
    deadline = time.monotonic() + 15
    while len(receiver.arrived) < len(jobs) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return [receiver.arrived[j] - t for j, t in sent.items() if j in receiver.arrived]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()
