"""Strict JSON responses from pydantic models.

Metric values can be NaN or infinite (a diverging loss). Bare `NaN` is not JSON, so the
API writes the strings "NaN", "Infinity" and "-Infinity" instead, and the OpenAPI
document says so for every number (see openapi.ApiJsonSchema).
"""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web
from pydantic import BaseModel

NON_FINITE = ("NaN", "Infinity", "-Infinity")


def finite_json(value: Any) -> Any:
    """`value` with every non-finite float replaced by its string name (iterative walk)."""
    if isinstance(value, float):
        return _name(value)
    root: list[Any] = [value]
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, item in list(items):
            if isinstance(item, float) and not math.isfinite(item):
                node[key] = _name(item)
            elif isinstance(item, dict | list):
                stack.append(item)
    return root[0]


def _name(number: float) -> float | str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return number


def dumps(model: BaseModel) -> str:
    data = finite_json(model.model_dump(mode="json", by_alias=True))
    return json.dumps(data, allow_nan=False, separators=(",", ":"))


def render(model: BaseModel, *, status: int = 200) -> web.Response:
    """`model` as an application/json response."""
    return web.Response(text=dumps(model), status=status, content_type="application/json")
