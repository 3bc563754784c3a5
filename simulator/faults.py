"""Fault injection per API request: latency, 5xx, 429 (both kinds), truncated bodies."""

from __future__ import annotations

import random

from pydantic import BaseModel, ConfigDict, Field

from simulator.errors import ApiError

_SERVER_ERRORS = (
    (500, "The server had an error while processing your request. Sorry about that!"),
    (502, "Bad gateway."),
    (503, "The server is overloaded or not ready yet."),
)


class Faults(BaseModel):
    """What goes wrong, per request to `/v1/...`; shares are probabilities 0..1."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(default=0.0, ge=0)
    latency_jitter_ms: float = Field(default=0.0, ge=0)
    error_rate_5xx: float = Field(default=0.0, ge=0, le=1)
    rate_429: float = Field(default=0.0, ge=0, le=1)
    retry_after_s: int = Field(default=1, ge=1)
    insufficient_quota: bool = False
    truncate_rate: float = Field(default=0.0, ge=0, le=1)
    seed: int = 0


class FaultInjector:
    """Draws each request's fate from `faults` with a seeded RNG (reproducible runs)."""

    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = faults or Faults()
        self._rng = random.Random(self.faults.seed)
        self.injected = dict.fromkeys(("5xx", "429", "insufficient_quota", "truncated"), 0)

    def set(self, faults: Faults) -> None:
        """Replace the fault settings (and reseed, so a run after a change is reproducible)."""
        self.faults = faults
        self._rng = random.Random(faults.seed)

    def delay_s(self) -> float:
        """Seconds to wait before answering."""
        base = self.faults.latency_ms
        jitter = self.faults.latency_jitter_ms
        if jitter:
            base += self._rng.uniform(0.0, jitter)
        return base / 1000.0

    def error(self) -> ApiError | None:
        """The error to answer instead of handling the request, or None."""
        faults = self.faults
        if faults.insufficient_quota:
            self.injected["insufficient_quota"] += 1
            return insufficient_quota()
        draw = self._rng.random()
        if draw < faults.error_rate_5xx:
            self.injected["5xx"] += 1
            status, message = self._rng.choice(_SERVER_ERRORS)
            return ApiError(status, message, type="server_error")
        if draw < faults.error_rate_5xx + faults.rate_429:
            self.injected["429"] += 1
            return rate_limited(faults.retry_after_s)
        return None

    def truncate(self) -> bool:
        """Whether to cut this successful response's body in half."""
        if self.faults.truncate_rate and self._rng.random() < self.faults.truncate_rate:
            self.injected["truncated"] += 1
            return True
        return False


def rate_limited(retry_after_s: int) -> ApiError:
    """The transient 429, with `Retry-After` in whole seconds."""
    return ApiError(
        429,
        f"Rate limit reached for requests. Please try again in {retry_after_s}s.",
        type="requests",
        code="rate_limit_exceeded",
        headers={"Retry-After": str(retry_after_s)},
    )


def insufficient_quota() -> ApiError:
    """The billing 429: no `Retry-After`, because waiting does not help."""
    return ApiError(
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        type="insufficient_quota",
        code="insufficient_quota",
    )
