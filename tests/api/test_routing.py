"""The route registry reads handler signatures; a wrong one fails at import time."""

from __future__ import annotations

import pytest
from aiohttp import web

from service.api.routing import Routes
from service.api.schemas import Health, JobId, JobsQuery


def test_inputs_come_from_the_signature() -> None:
    routes = Routes("t")

    @routes.get("/v1/things/{job_id}", "A thing")
    async def thing(request: web.Request, job_id: JobId, query: JobsQuery) -> Health:
        return Health(status="ok")

    [route] = routes.items
    assert route.query is JobsQuery
    assert route.response is Health
    assert list(route.path_params) == ["job_id"]
    assert route.body is None


def test_mistakes_fail_when_declared() -> None:
    routes = Routes("t")
    with pytest.raises(TypeError, match="must name"):

        @routes.get("/v1/things/{job_id}", "Missing path parameter")
        async def missing(request: web.Request) -> Health:
            return Health(status="ok")

    with pytest.raises(TypeError, match="unknown parameters"):

        @routes.get("/v1/things", "Unknown parameter")
        async def extra(request: web.Request, colour: str) -> Health:
            return Health(status="ok")

    with pytest.raises(TypeError, match="unsupported body"):

        @routes.post("/v1/things", "Unsupported body")
        async def body(request: web.Request, body: int) -> Health:
            return Health(status="ok")
