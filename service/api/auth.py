"""Bearer tokens: FTWATCH_API_TOKEN (admin, everywhere) and FTWATCH_INGEST_TOKEN (SPEC §3).

No admin token configured: every mutating endpoint answers 403, so a fresh install is
read-only rather than open. The ingest token is what a training job holds: it may push
events and read/ack the decisions of ingested jobs, and is refused (403) everywhere
else, reads included, so a leaked trainer token cannot even list the hosted jobs.
Comparisons run in constant time.
"""

from __future__ import annotations

import hmac
from typing import Literal

from aiohttp import web
from pydantic import SecretStr

from service import keys
from service.api.errors import ApiError

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ftwatch"'}
# What the request's token allows: set by `authorize` for the handlers that must check
# the job too (the ingest token reaches only ingested jobs).
SCOPE = web.RequestKey("auth_scope", str)
Scope = Literal["admin", "ingest", "none"]
INGEST_ONLY = (
    "the ingest token (FTWATCH_INGEST_TOKEN) may only push events and read or ack the "
    "decisions of ingested jobs; use FTWATCH_API_TOKEN here"
)


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def _same(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode()
    )


def _given(request: web.Request) -> tuple[str, str]:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower(), given.strip()


def token_scope(request: web.Request) -> Scope:
    """Which configured token the request carries (`none`: no or an unknown one)."""
    settings = request.app[keys.SETTINGS]
    scheme, given = _given(request)
    if scheme != "bearer" or not given:
        return "none"
    if _same(given, _secret(settings.api_token)):
        return "admin"
    return "ingest" if _same(given, _secret(settings.ingest_token)) else "none"


def authorize(request: web.Request, *, auth: bool, ingest: bool) -> None:
    """Let the request through to a route that needs `auth` (admin) or accepts `ingest`."""
    scope = token_scope(request)
    request[SCOPE] = scope
    if scope == "ingest" and not ingest:
        raise ApiError(403, "forbidden", INGEST_ONLY)
    if scope == "none" and (auth or ingest):
        _refuse(request, ingest=ingest)


def _refuse(request: web.Request, *, ingest: bool) -> None:
    settings = request.app[keys.SETTINGS]
    configured = _secret(settings.api_token) or (ingest and _secret(settings.ingest_token))
    wanted = "FTWATCH_INGEST_TOKEN or FTWATCH_API_TOKEN" if ingest else "FTWATCH_API_TOKEN"
    if not configured:
        raise ApiError(403, "forbidden", f"this endpoint is disabled: {wanted} is not set")
    scheme, given = _given(request)
    if scheme != "bearer" or not given:
        raise ApiError(
            401, "unauthorized", f"send Authorization: Bearer <{wanted}>", headers=_CHALLENGE
        )
    raise ApiError(403, "forbidden", "wrong token")


def check_bearer(request: web.Request) -> None:
    """Return when the request carries the admin token; raise the 401/403 envelope otherwise."""
    authorize(request, auth=True, ingest=False)
