"""/openapi.json: an OpenAPI 3.1 document built from the route registry's pydantic models."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import core_schema

from service.api.render import NON_FINITE
from service.api.routing import Route
from service.api.schemas import ErrorBody

REF = "#/components/schemas/{model}"
OPENAPI = web.AppKey("openapi", dict)
_ERROR_STATUSES = {
    400: "The body is not UTF-8 text or not JSON.",
    401: "No `Authorization: Bearer` token.",
    403: "Wrong token, FTWATCH_API_TOKEN is not set (mutations are disabled), or the "
    "ingest token (FTWATCH_INGEST_TOKEN) on an endpoint other than ingest and decisions.",
    404: "No such resource.",
    413: "The body is over 1 MiB, or a list is over its limit.",
    422: "A field or parameter is invalid; `details` names each one.",
}


class ApiJsonSchema(GenerateJsonSchema):
    """Numbers in responses may be the strings "NaN", "Infinity" or "-Infinity" (render.py)."""

    def float_schema(self, schema: core_schema.FloatSchema) -> dict[str, Any]:
        base = super().float_schema(schema)
        if self.mode != "serialization":
            return base
        return {"anyOf": [base, {"type": "string", "enum": list(NON_FINITE)}]}


def _models(routes: Sequence[Route]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    pairs: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for route in routes:
        for model in (route.body.model if route.body else None, route.doc_body):
            if model is not None:
                pairs.append((model, "validation"))
        outputs = [route.response, *(m for _, m in route.responses.values())]
        pairs += [(m, "serialization") for m in outputs if m is not None]
    return list(dict.fromkeys(pairs))


def build_openapi(routes: Sequence[Route], *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI document of `routes` (paths, schemas, bearer security)."""
    refs, defs = models_json_schema(
        _models(routes), ref_template=REF, schema_generator=ApiJsonSchema
    )
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


Refs = Mapping[tuple[Any, JsonSchemaMode], Any]


def _operation(route: Route, refs: Refs) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": route.handler.__name__,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": _path_parameters(route) + _query_parameters(route),
        "responses": _responses(route, refs),
    }
    doc = inspect.getdoc(route.handler)
    if doc:
        op["description"] = doc
    body = _request_body(route, refs)
    if body:
        op["requestBody"] = body
    if route.auth or route.ingest:
        op["security"] = [{"bearerAuth": []}]
    return op


def _path_parameters(route: Route) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": adapter.json_schema()}
        for name, adapter in route.path_params.items()
    ]


def _query_parameters(route: Route) -> list[dict[str, Any]]:
    if route.query is None:
        return []
    schema = route.query.model_json_schema(schema_generator=ApiJsonSchema, ref_template=REF)
    required = set(schema.get("required", []))
    params = []
    for name, raw in schema.get("properties", {}).items():
        prop = _without_null(raw)
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if "description" in prop:
            param["description"] = prop.pop("description")
        params.append(param)
    return params


def _without_null(prop: dict[str, Any]) -> dict[str, Any]:
    """An optional query parameter is simply absent: drop the `null` branch and default."""
    prop = dict(prop)
    if prop.get("default", 0) is None:
        del prop["default"]
    options = [o for o in prop.get("anyOf", []) if o != {"type": "null"}]
    if "anyOf" in prop and len(options) == 1:
        del prop["anyOf"]
        prop.update(options[0])
    return prop


def _request_body(route: Route, refs: Refs) -> dict[str, Any] | None:
    if route.doc_body is not None:
        return _json_body(refs[(route.doc_body, "validation")], required=True)
    if route.body is None:
        return None
    if route.body.model is None:
        return {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}
    return _json_body(refs[(route.body.model, "validation")], required=not route.body.optional)


def _json_body(schema: Any, *, required: bool) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _content(media_type: str, schema: Any) -> dict[str, Any]:
    return {"content": {media_type: {"schema": schema}}}


def _responses(route: Route, refs: Refs) -> dict[str, Any]:
    error = _content("application/json", refs[(ErrorBody, "serialization")])
    ok: dict[str, Any] = {"description": "Success."}
    if route.response is not None:
        ok |= _content(route.media_type, refs[(route.response, "serialization")])
    elif route.media_type == "application/json":
        ok |= _content(route.media_type, {"type": "object"})
    else:
        ok |= _content(route.media_type, {"type": "string"})
    out: dict[str, Any] = {str(route.status): ok}
    for status in _error_statuses(route):
        out[str(status)] = {"description": _ERROR_STATUSES[status]} | error
    for status, (text, model) in route.responses.items():
        if status == 204:  # no content: no body to describe
            out[str(status)] = {"description": text}
            continue
        body = refs[(model, "serialization")] if model is not None else None
        out[str(status)] = {"description": text} | (
            _content("application/json", body) if body else error
        )
    out["default"] = {"description": "Any other error, as the error envelope."} | error
    return out


def _error_statuses(route: Route) -> list[int]:
    statuses: list[int] = []
    if route.auth or route.ingest:
        statuses += [401, 403]
    if route.path_params:
        statuses.append(404)
    if route.body is not None or route.doc_body is not None:
        statuses += [400, 413]
    if route.query is not None or (route.body is not None and route.body.model is not None):
        statuses.append(422)
    return sorted(statuses)


async def openapi_json(request: web.Request) -> web.Response:
    """This document."""
    return web.json_response(request.app[OPENAPI])
