"""A real loop of the app crashes on real data: /readyz names it, /metrics counts it.

The cause is one a real deployment can meet: a job hash in Redis holding a value this
version cannot read (written by hand, or by another version). The rules ticker reads
every watched job each tick, so it crashes on every run until the value is fixed.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from service.app import create_app
from service.settings import Settings
from service.store import keys
from service.store.schedule import Schedule
from service.store.scripts import Scripts
from tests.api.conftest import seed_job
from tests.support import eventually, served
from workers.supervisor import RestartPolicy

JOB = "ftjob-unreadable"
# Short enough for a test to see the loop recover; the shapes are the production ones.
FAST = RestartPolicy(base=0.02, cap=0.2, stable_after=60.0, flap_window=1.0, flap_limit=3)
RESTARTS = re.compile(r'^ftwatch_loop_restarts_total\{loop="rules-ticker"\} (\S+)$', re.M)


async def readiness(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url + "/readyz") as resp:
        return resp.status, await resp.json()


async def ticker_restarts(http: aiohttp.ClientSession, url: str) -> float:
    async with http.get(url + "/metrics") as resp:
        match = RESTARTS.search(await resp.text())
    return float(match.group(1)) if match else -1.0


async def test_a_crashing_loop_is_named_counted_and_recovers(
    settings: Settings, redis: aioredis.Redis
) -> None:
    app = create_app(
        settings.model_copy(update={"rule_tick_interval": 0.05}),
        role="worker",
        restart_policy=FAST,
    )
    async with served(app) as url, aiohttp.ClientSession() as http:
        status, body = await readiness(http, url)
        assert status == 200, body
        assert body["loops"]["rules-ticker"] == "running"
        assert set(body["loops"].values()) == {"running"}
        assert await ticker_restarts(http, url) == 0.0

        await seed_job(redis, JOB)
        await Schedule(redis, Scripts(redis), "test").watch([JOB])
        await redis.hset(keys.job(JOB), "metrics", "{not json")

        async def names_the_ticker() -> Any:
            status, body = await readiness(http, url)
            reasons = [r for r in body["reasons"] if r.startswith("loop rules-ticker ")]
            return status == 503 and reasons and "JSONDecodeError" in reasons[0] and body

        body = await eventually(names_the_ticker, message="/readyz names the crashing ticker")
        assert body["status"] == "not ready"
        assert len(body["reasons"]) == 1, body["reasons"]  # only the ticker: nothing else
        assert {name for name, state in body["loops"].items() if state != "running"} <= {
            "rules-ticker"
        }

        async def counted() -> bool:
            return await ticker_restarts(http, url) >= 1

        await eventually(counted, message="ftwatch_loop_restarts_total counts the ticker")

        await redis.hset(keys.job(JOB), "metrics", "{}")  # the cause goes away

        async def ready_again() -> bool:
            return (await readiness(http, url))[0] == 200

        await eventually(ready_again, message="/readyz is ready once the ticker runs fine")
        status, body = await readiness(http, url)
        assert status == 200
        assert set(body["loops"].values()) == {"running"}
