"""GET /openapi.json: built from the route registry, so every served route is documented."""

from __future__ import annotations

import json

from service.api.setup import routes_for
from tests.api.conftest import Api


async def test_every_route_is_documented_with_its_models(api: Api) -> None:
    status, doc = await api.get("/openapi.json")
    assert status == 200
    assert doc["openapi"].startswith("3.1")
    json.dumps(doc, allow_nan=False)  # strict JSON
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = {(r.path, r.method) for r in routes_for("api")}
    assert documented == served
    operation_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
    for route in routes_for("api"):
        op = doc["paths"][route.path][route.method.lower()]
        assert "default" in op["responses"]
        if route.auth or route.ingest:
            assert op["security"] == [{"bearerAuth": []}]
            assert {"401", "403"} <= set(op["responses"])
        else:
            assert "security" not in op


async def test_the_document_follows_the_handlers_models(api: Api) -> None:
    _, doc = await api.get("/openapi.json")
    jobs = doc["paths"]["/v1/jobs"]["get"]
    params = {p["name"]: p for p in jobs["parameters"]}
    assert set(params) == {"status", "provider", "source", "metadata", "cursor", "limit"}
    assert params["limit"]["schema"]["maximum"] == 500
    assert params["status"]["schema"]["type"] == "array"
    ok = jobs["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/JobList"}
    ingest = doc["paths"]["/v1/ingest/events"]["post"]["requestBody"]
    body_ref = ingest["content"]["application/json"]["schema"]["$ref"]
    batch = doc["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    assert batch["properties"]["events"]["maxItems"] == 500
    # Metric values may be non-finite, written as strings: the document says so.
    view = doc["components"]["schemas"]["JobView"]
    metric = view["properties"]["metrics"]["additionalProperties"]
    assert {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]} in metric["anyOf"]
    validate = doc["paths"]["/v1/rules/validate"]["post"]["requestBody"]
    assert list(validate["content"]) == ["text/plain"]


async def test_the_decision_endpoints_are_documented(api: Api) -> None:
    _, doc = await api.get("/openapi.json")
    poll = doc["paths"]["/v1/jobs/{job_id}/decision"]["get"]
    assert poll["responses"]["204"] == {
        "description": "No decision is pending (after waiting up to `wait` s)."
    }
    ok = poll["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/DecisionView"}
    [wait] = poll["parameters"][1:]
    assert (wait["name"], wait["schema"]["maximum"]) == ("wait", 60)
    ack = doc["paths"]["/v1/jobs/{job_id}/decision/{decision_id}/ack"]["post"]
    body = ack["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][body.rsplit("/", 1)[1]]
    assert set(schema["properties"]) == {"outcome", "checkpoint", "message"}
    assert schema["required"] == ["outcome"]
    reply = doc["components"]["schemas"]["IngestResult"]["properties"]["decisions"]
    assert reply["items"] == {"$ref": "#/components/schemas/DecisionView"}
    # Which token each takes is said where a reader of the document looks.
    assert "FTWATCH_INGEST_TOKEN" in doc["paths"]["/v1/ingest/events"]["post"]["description"]
    assert "FTWATCH_INGEST_TOKEN" in poll["description"]
    assert "FTWATCH_INGEST_TOKEN" in ack["description"]
    assert "ingest token" in poll["responses"]["403"]["description"]
