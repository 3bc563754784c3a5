"""Every role serves /healthz, /readyz and /metrics; only api roles serve /v1."""

from __future__ import annotations

from service.api.setup import routes_for
from tests.api.conftest import Api, StartApi


async def test_health_readiness_and_metrics(api: Api) -> None:
    assert await api.get("/healthz") == (200, {"status": "ok"})
    # The api role runs no background loop.
    assert await api.get("/readyz") == (200, {"status": "ready", "reasons": [], "loops": {}})
    status, text = await api.get("/metrics")
    assert status == 200
    assert "ftwatch_events_ingested_total" in text


async def test_other_roles_serve_health_but_not_the_api(start_api: StartApi) -> None:
    # The worker role stands for poller too: both register only the health routes
    # (routes_for); the poller's shutdown waits on upstream retries, which is slow here.
    assert {r.path for r in routes_for("poller")} == {r.path for r in routes_for("worker")}
    served = await start_api(role="worker")
    assert (await served.get("/healthz"))[0] == 200
    assert (await served.get("/metrics"))[0] == 200
    status, body = await served.get("/v1/jobs")
    assert status == 404
    assert body["error"]["code"] == "not_found"


async def test_unknown_paths_and_methods_get_the_error_envelope(api: Api) -> None:
    status, body = await api.get("/v1/nothing-here")
    assert status == 404
    assert body == {"error": {"code": "not_found", "message": "Not Found", "details": None}}
    status, body = await api.call("DELETE", "/v1/jobs")
    assert status == 405
    assert body["error"]["code"] == "method_not_allowed"
