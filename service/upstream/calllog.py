"""Logs of upstream calls: one line per retry, one per failed call, job_id bound, no secrets."""

from __future__ import annotations

from typing import Any

import structlog
from tenacity import RetryCallState

from service.upstream.errors import QuotaExceeded, Unauthorized, UpstreamError


def log_retry(endpoint: str, job_id: str | None, state: RetryCallState) -> None:
    """Info: an attempt failed and another follows after `wait_s`."""
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    structlog.get_logger(__name__).info(
        "upstream_retry",
        endpoint=endpoint,
        job_id=job_id,
        attempt=state.attempt_number,
        wait_s=round(wait, 3),
        status=getattr(exc, "status", None),
        code=getattr(exc, "code", None),
    )


def log_failure(endpoint: str, job_id: str | None, exc: UpstreamError) -> None:
    """Once per failed call: error for key or billing problems a human must fix, else warning.

    Messages are built from redacted bodies, so the key cannot appear here.
    """
    # A fresh logger each time: a cached module-level one would bypass capture_logs in tests.
    log = structlog.get_logger(__name__).bind(job_id=job_id, endpoint=endpoint)
    fields: dict[str, Any] = {
        "status": exc.status,
        "code": exc.code,
        "type": exc.type,
        "request_id": exc.request_id,
        "attempts": exc.attempts,
        "error": str(exc),
    }
    if isinstance(exc, Unauthorized | QuotaExceeded):
        log.error("upstream_call_failed", **fields)
    else:
        log.warning("upstream_call_failed", **fields)
