"""The JSON error envelope and the middleware that turns every failure into one.

Nothing leaves the API as a stack trace: unexpected exceptions are logged (with the
trace, server-side) and answered with a plain 500 envelope.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.api.render import render
from service.api.schemas import ErrorBody, ErrorDetail, ErrorInfo

log = structlog.get_logger(__name__)

# Codes for errors aiohttp raises itself (routing, body size).
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}
# Headers of aiohttp's own errors that a client needs (e.g. Allow on a 405).
_KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")
MAX_DETAILS = 20


class ApiError(Exception):
    """An error answered as `{"error": {"code", "message"}}` with `status`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Sequence[ErrorDetail] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details) if details else None
        self.headers = dict(headers or {})


def error_response(error: ApiError) -> web.Response:
    body = ErrorBody(error=ErrorInfo(code=error.code, message=error.message, details=error.details))
    response = render(body, status=error.status)
    response.headers.update(error.headers)
    return response


def render_loc(loc: Sequence[int | str]) -> str:
    """`('events', 3, 'created_at')` → `events[3].created_at`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def _detail(error: ErrorDetails, prefix: str) -> ErrorDetail:
    loc = render_loc(error["loc"])
    return ErrorDetail(loc=f"{prefix}{loc}" if prefix else loc, message=error["msg"])


def invalid(exc: ValidationError, *, what: str, prefix: str = "") -> ApiError:
    """A 422 naming every bad field (or 413 when a list exceeds its size limit)."""
    return invalid_errors(
        exc.errors(include_url=False, include_input=False), what=what, prefix=prefix
    )


def invalid_errors(errors: Sequence[ErrorDetails], *, what: str, prefix: str = "") -> ApiError:
    """`invalid` for errors gathered from several validations (each loc already complete)."""
    for error in errors:
        if error["type"] == "too_long" and len(error["loc"]) == 1:
            limit = (error.get("ctx") or {}).get("max_length")
            name = render_loc(error["loc"])
            return ApiError(413, "too_many_items", f"{name}: at most {limit} items per request")
    details = [_detail(e, prefix) for e in errors[:MAX_DETAILS]]
    summary = "; ".join(f"{d.loc}: {d.message}" for d in details[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return ApiError(422, "invalid_request", f"invalid {what}: {summary}{more}", details=details)


def _from_http(exc: web.HTTPException) -> ApiError:
    text = exc.text or ""
    default = f"{exc.status}: {exc.reason}"
    message = exc.reason if text in {"", default} else text
    headers = {k: exc.headers[k] for k in _KEPT_HEADERS if k in exc.headers}
    code = _HTTP_CODES.get(exc.status, "http_error")
    return ApiError(exc.status, code, message, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as the JSON envelope; never a stack trace in a response."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(_from_http(exc))
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.warning("store_unavailable", error=type(exc).__name__, path=request.path)
        return error_response(ApiError(503, "store_unavailable", "Redis is unavailable; retry"))
    except Exception:
        log.exception("unhandled_error", method=request.method, path=request.path)
        return error_response(ApiError(500, "internal", "internal error; see the server log"))
