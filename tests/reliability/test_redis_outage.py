"""Redis goes away under a running ftwatch: not ready, logged once, nothing lost after."""

from __future__ import annotations

import aiohttp
import pytest
import redis.asyncio as aioredis

from tests.integration.conftest import ManualSim, StartFtwatch, stream_ids
from tests.support import FtwatchProcess, RedisServer, eventually

JOBS = [f"ftjob-poll-{n}" for n in range(3)]


async def ready_status(proc: FtwatchProcess) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"{proc.url}/readyz") as resp:
        return resp.status


def logged(proc: FtwatchProcess, event: str) -> int:
    return sum(1 for record in proc.log_records() if record.get("event") == event)


async def all_caught_up(redis: aioredis.Redis, sim: ManualSim) -> bool:
    for job in JOBS:
        if await stream_ids(redis, job) != sim.upstream_ids(job):
            return False
    return True


async def test_ftwatch_rides_out_a_redis_outage(
    redis: aioredis.Redis,
    redis_server: RedisServer,
    manual_sim: ManualSim,
    start_ftwatch: StartFtwatch,
) -> None:
    proc = start_ftwatch("replica-a", "all", {})
    await proc.wait_healthy()
    manual_sim.clock.advance(3)
    await eventually(lambda: all_caught_up(redis, manual_sim), message="events before")

    redis_server.kill()

    async def not_ready() -> bool:
        return await ready_status(proc) == 503

    await eventually(not_ready, message="/readyz answers 503 while Redis is down")
    manual_sim.clock.advance(10)  # events keep coming upstream meanwhile

    async def outage_logged() -> bool:
        return logged(proc, "redis_unavailable") > 0

    await eventually(outage_logged, message="the outage is logged")
    redis_server.start()  # same port and directory: the AOF brings the data back

    async def ready() -> bool:
        return await ready_status(proc) == 200

    await eventually(ready, timeout=20, message="ready again")
    await eventually(
        lambda: all_caught_up(redis, manual_sim), timeout=20, message="every event once, after"
    )
    assert proc.proc is not None and proc.proc.poll() is None
    assert logged(proc, "redis_unavailable") == 1

    async def end_logged() -> bool:
        return logged(proc, "redis_available_again") == 1

    await eventually(end_logged, message="the end of the outage is logged once")


@pytest.mark.parametrize("redis_server", ["tls"], indirect=True)
async def test_a_tls_redis_whose_ca_is_not_named_is_an_outage_that_says_so(
    redis_server: RedisServer, start_ftwatch: StartFtwatch
) -> None:
    # The same TLS-only server, the URL without ssl_ca_certs: the system store does not
    # know the test CA (what a user of a private CA meets first).
    url = redis_server.url.partition("?")[0]
    proc = start_ftwatch("replica-a", "all", {"FTWATCH_REDIS_URL": url})
    await proc.wait_healthy()  # alive: the loops ride it out, no crash, no traceback

    async def tls_reason() -> str:
        async with aiohttp.ClientSession() as http, http.get(f"{proc.url}/readyz") as resp:
            body = await resp.json()
            assert resp.status == 503, body
        reasons = [r for r in body["reasons"] if r.startswith("redis unreachable: TLS: ")]
        return reasons[0] if reasons else ""

    reason = await eventually(tls_reason, message="/readyz names the TLS problem")
    assert "certificate verify failed" in reason and "ssl_ca_certs=" in reason

    async def outage_logged() -> list[dict[str, object]]:
        return [r for r in proc.log_records() if r.get("event") == "redis_unavailable"]

    [record] = await eventually(outage_logged, message="the outage is logged")
    assert f"TLS with Redis at 127.0.0.1:{redis_server.port} failed" in str(record["error"])
    assert "FTWATCH_REDIS_URL" in str(record["error"])
    assert "Traceback" not in proc.log_path.read_text()
    assert proc.terminate() == 0
