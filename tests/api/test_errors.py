"""The error envelope: every failure is JSON, none carries a stack trace."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from structlog.testing import capture_logs

from service.api.errors import error_middleware
from tests.api.conftest import Api
from tests.support import RedisServer


async def _boom(request: web.Request) -> web.Response:
    raise RuntimeError("a private detail of the failure")


@pytest.fixture
async def failing_url() -> AsyncIterator[str]:
    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/boom", _boom)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/boom"
    finally:
        await runner.cleanup()


async def test_an_unexpected_exception_is_a_plain_500(failing_url: str) -> None:
    with capture_logs() as logs:
        async with aiohttp.ClientSession() as http, http.get(failing_url) as response:
            text = await response.text()
            body = await response.json()
    assert response.status == 500
    assert body == {
        "error": {
            "code": "internal",
            "message": "internal error; see the server log",
            "details": None,
        }
    }
    assert "Traceback" not in text
    assert "private detail" not in text
    assert [e["event"] for e in logs] == ["unhandled_error"]  # the trace goes to the log


async def test_redis_down_is_a_503_envelope(api: Api, redis_server: RedisServer) -> None:
    redis_server.kill()
    status, body = await api.get("/v1/jobs")
    assert status == 503
    assert body["error"]["code"] == "store_unavailable"
    status, body = await api.get("/readyz")
    assert status == 503
    assert body["status"] == "not ready"
    assert body["reasons"][0].startswith("redis unreachable")
