"""The auth matrix: every mutating endpoint, without, with a wrong and with the right token."""

from __future__ import annotations

import re

import pytest

from service.api.routing import Route
from service.api.setup import routes_for
from tests.api.conftest import TOKEN, Api, StartApi

MUTATING = [r for r in routes_for("api") if r.auth]
SAMPLE_PARAMS = {"job_id": "ftjob-unknown", "delivery_id": "1-0", "decision_id": "dec_unknown"}


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PARAMS[m.group(1)], path)


def test_every_mutating_endpoint_requires_the_token() -> None:
    paths = {r.path for r in MUTATING}
    assert paths == {
        "/v1/jobs/{job_id}/pause",
        "/v1/jobs/{job_id}/resume",
        "/v1/jobs/{job_id}/cancel",
        "/v1/deliveries/dead/{delivery_id}/replay",
        "/v1/ingest/events",
        "/v1/rules/validate",  # changes nothing, but parsing is work not to give away
        # A trainer's: the ingest token is accepted too (tests/api/test_ingest_token.py).
        "/v1/jobs/{job_id}/decision",
        "/v1/jobs/{job_id}/decision/{decision_id}/ack",
    }
    # Every other POST is signature-checked (the webhook).
    others = {r.path for r in routes_for("api") if r.method == "POST" and not r.auth}
    assert others == {"/v1/webhooks/openai"}


@pytest.mark.parametrize("route", MUTATING, ids=lambda r: r.path)
async def test_token_matrix(api: Api, route: Route) -> None:
    path, method = concrete(route.path), route.method
    status, body = await api.call(method, path, json={"events": []})
    assert status == 401
    assert body["error"]["code"] == "unauthorized"
    for header in ("Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x"):
        status, body = await api.call(method, path, json={}, headers={"Authorization": header})
        assert status == (401 if header.startswith("Basic") else 403), header
    status, body = await api.call(method, path, json={"events": []}, auth=True)
    assert status not in {401, 403}
    # Unknown job / delivery, or an empty batch: a JSON error; a body that is no rules
    # file: the checker's findings.
    assert "error" in body or body.get("valid") is False


@pytest.mark.parametrize("route", MUTATING, ids=lambda r: r.path)
async def test_without_a_configured_token_mutations_are_forbidden(
    start_api: StartApi, route: Route
) -> None:
    served = await start_api()  # FTWATCH_API_TOKEN unset
    path = concrete(route.path)
    for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}, {"Authorization": "Bearer "}):
        status, body = await served.call(route.method, path, json={}, headers=headers)
        assert status == 403
        assert body["error"]["code"] == "forbidden"
        assert "FTWATCH_API_TOKEN" in body["error"]["message"]


async def test_the_token_never_appears_in_responses(api: Api) -> None:
    for path in ("/v1/rules", "/openapi.json", "/v1/jobs"):
        _, body = await api.get(path, auth=True)
        assert TOKEN not in str(body)
