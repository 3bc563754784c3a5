"""One HTTP exchange with ftwatch (urllib), its failures sorted into retry or give up."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

USER_AGENT = "ftwatch-client/0.1"
# Answers that a later try of the same request may change: rate limits, overload, outages.
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Reply:
    """What came back: a status (0 when nothing did), the JSON body, and why it failed."""

    status: int
    body: Any = None
    error: str = ""
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """Worth sending again: no answer at all, or an answer saying try later."""
        return self.status == 0 or self.status in RETRYABLE


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:  # an HTTP date: rare from ftwatch; fall back to our own backoff
        return None


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _message(status: int, body: Any, raw: bytes) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return f"HTTP {status}: {error['message']}"
    return f"HTTP {status}: {raw[:200].decode('utf-8', 'replace')}"


def exchange(
    method: str, url: str, token: str | None, payload: Any = None, *, timeout: float
) -> Reply:
    """Send one request; never raises for network or HTTP errors (they become the Reply)."""
    data = None if payload is None else json.dumps(payload).encode()
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return Reply(status=response.status, body=_json(raw))
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        body = _json(raw)
        return Reply(exc.code, body, _message(exc.code, body, raw), _retry_after(exc.headers))
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Reply(status=0, error=f"{type(exc).__name__}: {reason}")
