"""Bearer-token check for mutating endpoints (FTWATCH_API_TOKEN).

No token configured: every mutating endpoint answers 403, so a fresh install is
read-only rather than open. The comparison runs in constant time.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from service import keys
from service.api.errors import ApiError

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ftwatch"'}


def check_bearer(request: web.Request) -> None:
    """Return when the request carries the API token; raise the 401/403 envelope otherwise."""
    token = request.app[keys.SETTINGS].api_token
    expected = token.get_secret_value() if token is not None else ""
    if not expected:
        raise ApiError(
            403, "forbidden", "mutating endpoints are disabled: FTWATCH_API_TOKEN is not set"
        )
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        raise ApiError(
            401,
            "unauthorized",
            "send Authorization: Bearer <FTWATCH_API_TOKEN>",
            headers=_CHALLENGE,
        )
    if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode()):
        raise ApiError(403, "forbidden", "wrong API token")
