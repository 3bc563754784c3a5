"""What differs between the vendor surfaces the simulator speaks; one Flavor per process.

A Flavor is data plus a few small functions: where the API lives, how a caller proves
who it is, which `api-version` values it accepts, how statuses, levels and errors look.
The platform underneath (jobs, timelines, paging, faults) is the same for every flavor.
Azure facts: ../shared/reference/providers.md §1; choices where it is silent are marked.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from simulator.errors import ApiError

Headers = Mapping[str, str]
Json = dict[str, Any]

# -- auth ---------------------------------------------------------------------------------
_OPENAI_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)
# Azure API Management's own wording, as real 401s carry it (code is the status as a string).
_AZURE_NO_KEY = (
    "Access denied due to missing subscription key. Make sure to include subscription key "
    "when making requests to an API."
)
_AZURE_BAD_KEY = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
    "provide a valid key for an active subscription and use a correct regional API endpoint "
    "for your resource."
)


def _bearer(headers: Headers) -> str | None:
    """The non-empty key of `Authorization: Bearer <key>`, else None."""
    scheme, _, key = headers.get("Authorization", "").partition(" ")
    key = key.strip()
    return key if scheme.lower() == "bearer" and key else None


def _api_key(headers: Headers) -> str | None:
    return headers.get("api-key", "").strip() or None


def openai_auth(headers: Headers, api_key: str | None) -> None:
    """401 unless `Authorization: Bearer <non-empty key>` (and the key, when one is set)."""
    key = _bearer(headers)
    if key is None:
        raise ApiError(401, _OPENAI_NO_KEY)
    if api_key is not None and key != api_key:
        raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")


def _azure_key_check(key: str | None, api_key: str | None) -> None:
    if key is None:
        raise ApiError(401, _AZURE_NO_KEY, code="401")
    if api_key is not None and key != api_key:
        raise ApiError(401, _AZURE_BAD_KEY, code="401")


def azure_classic_auth(headers: Headers, api_key: str | None) -> None:
    """`api-key: <key>`; a Bearer stands for an Entra token, only when no key is fixed.

    The simulator cannot check an Entra token, so with a fixed key only `api-key` proves it.
    """
    key = _api_key(headers)
    if key is None and api_key is None and _bearer(headers) is not None:
        return
    _azure_key_check(key, api_key)


def azure_v1_auth(headers: Headers, api_key: str | None) -> None:
    """`Authorization: Bearer <key>` or `api-key: <key>` (the v1 spec's security list)."""
    _azure_key_check(_bearer(headers) or _api_key(headers), api_key)


# -- api-version ----------------------------------------------------------------------------
_DATED_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(-preview)?")
PREVIEW_ACTIONS = frozenset({"pause", "resume"})


def resource_not_found() -> ApiError:
    """Azure's answer to a missing api-version or an operation the version lacks."""
    return ApiError(404, "Resource not found", code="404")


def version_not_supported() -> ApiError:
    return ApiError(400, "API version not supported", code="BadRequest")


def no_version_check(version: str | None, action: str | None) -> None:
    """The OpenAI API has no api-version."""


def classic_version_check(version: str | None, action: str | None) -> None:
    """Required on every call; pause/resume only on `-preview` versions (not GA 2024-10-21).

    Choice: any well-formed `YYYY-MM-DD[-preview]` is accepted (Azure keeps a list).
    """
    if version is None:
        raise resource_not_found()
    if not _DATED_VERSION.fullmatch(version):
        raise version_not_supported()
    if action in PREVIEW_ACTIONS and not version.endswith("-preview"):
        raise resource_not_found()


def v1_version_check(version: str | None, action: str | None) -> None:
    """Optional; `v1` (the default) or `preview`, anything else refused."""
    if version not in (None, "v1", "preview"):
        raise version_not_supported()


# -- error envelopes ------------------------------------------------------------------------
# OpenAI codes → Azure classic `ErrorCode` (reference §1.5); unlisted codes pass through.
_AZURE_CODES = {
    "fine_tuning_job_not_found": "notFound",
    "invalid_job_state": "unexpectedEntityState",
    "rate_limit_exceeded": "tooManyRequests",
    "insufficient_quota": "quotaExceeded",
    "invalid_type": "invalidPayload",
    "integer_below_min_value": "invalidPayload",
    "integer_above_max_value": "invalidPayload",
    "invalid_api_key": "401",
}
_AZURE_STATUS_CODES = {400: "invalidPayload", 401: "401", 404: "notFound", 409: "conflict"}


def azure_code(exc: ApiError) -> str:
    """The Azure code for an error the platform raised in OpenAI's terms."""
    if exc.code is not None:
        return _AZURE_CODES.get(exc.code, exc.code)
    if exc.status == 503:
        return "serviceUnavailable"
    if exc.status >= 500:
        return "internalFailure"
    return _AZURE_STATUS_CODES.get(exc.status, "invalidPayload")


def classic_envelope(exc: ApiError) -> Json:
    """Azure classic `ErrorResponse`: `{"error": {"code", "message"[, "target"]}}`."""
    error: Json = {"code": azure_code(exc), "message": exc.message}
    if exc.param is not None:
        error["target"] = exc.param
    return {"error": error}


def v1_envelope(exc: ApiError) -> Json:
    """Azure v1 `AzureErrorResponse`: code, message, param, type "error", inner_error."""
    return {
        "error": {
            "code": azure_code(exc),
            "message": exc.message,
            "param": exc.param,
            "type": "error",
            "inner_error": {},
        }
    }


def openai_unknown_path(status: int, method: str, path: str) -> ApiError:
    return ApiError(status, f"Invalid URL ({method} {path})")


def azure_unknown_path(status: int, method: str, path: str) -> ApiError:
    """Azure names no route: `{"code": "404", "message": "Resource not found"}`."""
    if status == 404:
        return resource_not_found()
    return ApiError(status, HTTPStatus(status).phrase, code=str(status))


# -- request ids ----------------------------------------------------------------------------
def openai_request_id() -> tuple[str, str]:
    return "x-request-id", "req_" + uuid.uuid4().hex


def azure_request_id() -> tuple[str, str]:
    """Azure documents `apim-request-id` (a uuid) on every response."""
    return "apim-request-id", str(uuid.uuid4())


def together_request_id() -> tuple[str, str]:
    """Choice: Together's gateway id header is undocumented; `x-request-id` like OpenAI's."""
    return "x-request-id", uuid.uuid4().hex


# -- extra error headers ------------------------------------------------------------------
# Choice: the request limit a simulated Together key has (it is per model and dynamic).
TOGETHER_REQUEST_LIMIT = 60


def no_error_headers(exc: ApiError) -> dict[str, str]:
    return {}


def together_rate_headers(exc: ApiError) -> dict[str, str]:
    """A 429 also says `x-ratelimit-limit/-remaining/-reset` (providers.md §2.7)."""
    if exc.status != 429:
        return {}
    reset = exc.headers.get("Retry-After", "1")
    return {
        "x-ratelimit-limit": str(TOGETHER_REQUEST_LIMIT),
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": reset,
    }


# -- the flavors --------------------------------------------------------------------------
@dataclass(frozen=True)
class Flavor:
    """One vendor surface: its API root, auth, api-version rule, JSON and error shapes."""

    name: str
    prefix: str  # the API root path; requests outside it are controls or plain 404s
    authorize: Callable[[Headers, str | None], None]
    check_version: Callable[[str | None, str | None], None]  # (api-version, action)
    envelope: Callable[[ApiError], Json]
    unknown_path: Callable[[int, str, str], ApiError]  # (status, method, path)
    request_id: Callable[[], tuple[str, str]]
    statuses: Mapping[str, str] = field(default_factory=dict)  # simulator → vendor status
    levels: Mapping[str, str] = field(default_factory=dict)  # event level spellings
    job_fields: Mapping[str, Any] = field(default_factory=dict)  # set on every job object
    list_ids: bool = True  # checkpoint lists carry first_id / last_id
    error_headers: Callable[[ApiError], dict[str, str]] = no_error_headers

    def job(self, raw: Json) -> Json:
        """A job object as this vendor shows it."""
        status = raw["status"]
        return raw | dict(self.job_fields) | {"status": self.statuses.get(status, status)}

    def event(self, raw: Any) -> Any:
        """An event with the vendor's level spelling (injected malformed ones untouched)."""
        if not isinstance(raw, dict) or raw.get("level") not in self.levels:
            return raw
        return raw | {"level": self.levels[raw["level"]]}


OPENAI = Flavor(
    name="openai",
    prefix="/v1",
    authorize=openai_auth,
    check_version=no_version_check,
    envelope=ApiError.envelope,
    unknown_path=openai_unknown_path,
    request_id=openai_request_id,
)
AZURE = Flavor(
    name="azure",
    prefix="/openai",
    authorize=azure_classic_auth,
    check_version=classic_version_check,
    envelope=classic_envelope,
    unknown_path=azure_unknown_path,
    request_id=azure_request_id,
    # Classic FineTuningState has `pending` where OpenAI has validating_files/queued.
    statuses={"validating_files": "pending", "queued": "pending"},
    levels={"warn": "warning"},
    job_fields={"organization_id": None},  # real Azure: null (SDK's client still parses it)
    list_ids=False,
)
AZURE_V1 = Flavor(
    name="azure-v1",
    prefix="/openai/v1",
    authorize=azure_v1_auth,
    check_version=v1_version_check,
    envelope=v1_envelope,
    unknown_path=azure_unknown_path,
    request_id=azure_request_id,
    job_fields={"organization_id": ""},  # the v1 schema requires a string
)
# Together AI (providers.md §2): its own paths (simulator/together.py), Bearer auth, the
# OpenAI envelope, its own status words.
TOGETHER = Flavor(
    name="together",
    prefix="/v1",
    authorize=openai_auth,
    check_version=no_version_check,
    envelope=ApiError.envelope,
    unknown_path=openai_unknown_path,
    request_id=together_request_id,
    statuses={
        "validating_files": "pending",
        "succeeded": "completed",
        "failed": "error",
    },
    error_headers=together_rate_headers,
)
FLAVORS: Mapping[str, Flavor] = {f.name: f for f in (OPENAI, AZURE, AZURE_V1, TOGETHER)}


def flavor_named(flavor: Flavor | str) -> Flavor:
    """The Flavor itself, or the one of that name (KeyError names the known ones)."""
    if isinstance(flavor, Flavor):
        return flavor
    try:
        return FLAVORS[flavor]
    except KeyError:
        raise KeyError(f"unknown flavor {flavor!r}; known: {', '.join(FLAVORS)}") from None
