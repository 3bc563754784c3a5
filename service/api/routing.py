"""The route registry: each endpoint is declared once, and its inputs come from its signature.

A handler is `async def h(request, <path params>, query: QueryModel, body: BodyModel)
-> ResponseModel`. The registry reads those annotations to parse and validate the
request, to render the response, and to write /openapi.json (openapi.py), so the
document and the handlers cannot drift apart.
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from service.api.auth import authorize
from service.api.errors import ApiError, invalid
from service.api.render import render

H = TypeVar("H", bound=Callable[..., Awaitable[Any]])
_PATH_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Body:
    """How a route reads its body: a JSON model (maybe optional) or UTF-8 text."""

    model: type[BaseModel] | None  # None: text
    optional: bool = False


@dataclass(frozen=True)
class Route:
    """One endpoint, as served and as documented."""

    method: str
    path: str
    handler: Callable[..., Awaitable[Any]]
    summary: str
    tag: str
    auth: bool = False  # needs the admin token (FTWATCH_API_TOKEN)
    ingest: bool = False  # the ingest token is accepted too (and is refused on every other)
    status: int = 200
    response: type[BaseModel] | None = None
    media_type: str = "application/json"
    query: type[BaseModel] | None = None
    body: Body | None = None
    doc_body: type[BaseModel] | None = None  # documented, but read raw by the handler
    path_params: Mapping[str, TypeAdapter[Any]] = field(default_factory=dict)
    responses: Mapping[int, tuple[str, type[BaseModel] | None]] = field(default_factory=dict)

    def endpoint(self) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """The aiohttp handler: auth, inputs, the handler, and the rendered response."""

        async def endpoint(request: web.Request) -> web.StreamResponse:
            authorize(request, auth=self.auth, ingest=self.ingest)
            kwargs = self._path_values(request)
            if self.query is not None:
                kwargs["query"] = parse_query(request, self.query)
            if self.body is not None:
                kwargs["body"] = await read_body(request, self.body)
            result = await self.handler(request, **kwargs)
            if isinstance(result, web.StreamResponse):
                return result
            return render(result, status=self.status)

        return endpoint

    def _path_values(self, request: web.Request) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, adapter in self.path_params.items():
            raw = request.match_info[name]
            try:
                values[name] = adapter.validate_python(raw)
            except ValidationError:
                raise ApiError(404, "not_found", f"no such {name}: {raw!r}") from None
        return values


def parse_query(request: web.Request, model: type[BaseModel]) -> BaseModel:
    """The query string as `model`; repeated parameters fill list fields."""
    data: dict[str, Any] = {}
    for name in dict.fromkeys(request.query.keys()):
        values = request.query.getall(name)
        info = model.model_fields.get(name)
        is_list = info is not None and typing.get_origin(info.annotation) is list
        data[name] = values if is_list else values[-1]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc, what="query") from None


async def read_body(request: web.Request, body: Body) -> Any:
    """The body as text or validated JSON; 400 for undecodable bytes, 422 for bad fields."""
    raw = await request.read()  # over client_max_size: aiohttp raises 413
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_body", "the body is not UTF-8 text") from None
    if body.model is None:
        return text
    if not text.strip() and body.optional:
        return None
    data = required_json(text)
    try:
        return body.model.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc, what="body") from None


def required_json(text: str) -> Any:
    """A JSON body that must be there: 422 when blank, 400 when not JSON."""
    if not text.strip():
        raise ApiError(422, "invalid_request", "a JSON body is required")
    return parse_json(text)


def parse_json(text: str) -> Any:
    """JSON text as Python values; 400 naming what is wrong with it."""
    try:
        data = json.loads(text)
        if "\\u" in text:
            # A lone surrogate ("\ud800") parses, but cannot be stored or logged as UTF-8.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
    except ValueError as exc:  # UnicodeEncodeError included
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "invalid_json", "the body nests too deeply") from None
    return data


def _model(hint: Any) -> type[BaseModel] | None:
    return hint if inspect.isclass(hint) and issubclass(hint, BaseModel) else None


def _body(hint: Any) -> Body:
    if hint is str:
        return Body(model=None)
    if _model(hint):
        return Body(model=hint)
    args = typing.get_args(hint)
    if typing.get_origin(hint) in {typing.Union, types.UnionType} and type(None) in args:
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1 and _model(inner[0]):
            return Body(model=inner[0], optional=True)
    raise TypeError(f"unsupported body annotation {hint!r}")


class Routes:
    """The routes of one resource module, declared with `@routes.get(...)`/`.post(...)`."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.items: list[Route] = []

    def get(self, path: str, summary: str, **options: Any) -> Callable[[H], H]:
        return self._add("GET", path, summary, options)

    def post(self, path: str, summary: str, **options: Any) -> Callable[[H], H]:
        return self._add("POST", path, summary, options)

    def _add(
        self, method: str, path: str, summary: str, options: dict[str, Any]
    ) -> Callable[[H], H]:
        def register(handler: H) -> H:
            self.items.append(_route(method, path, summary, self.tag, handler, options=options))
            return handler

        return register


def _route(
    method: str,
    path: str,
    summary: str,
    tag: str,
    handler: Callable[..., Awaitable[Any]],
    *,
    options: dict[str, Any],
) -> Route:
    """Read the handler's signature into a Route; a mistake fails at import, not at request."""
    hints = typing.get_type_hints(handler, include_extras=True)
    names = list(inspect.signature(handler).parameters)[1:]  # the first is the request
    wanted = set(_PATH_PARAM.findall(path))
    path_params = {n: TypeAdapter[Any](hints[n]) for n in names if n in wanted}
    if set(path_params) != wanted:
        raise TypeError(f"{handler.__qualname__}: parameters must name {sorted(wanted)}")
    unknown = set(names) - wanted - {"query", "body"}
    if unknown:
        raise TypeError(f"{handler.__qualname__}: unknown parameters {sorted(unknown)}")
    response = options.pop("response", None) or _model(hints.get("return"))
    return Route(
        method=method,
        path=path,
        handler=handler,
        summary=summary,
        tag=tag,
        response=response,
        path_params=path_params,
        query=_model(hints["query"]) if "query" in names else None,
        body=_body(hints["body"]) if "body" in names else None,
        **options,
    )
