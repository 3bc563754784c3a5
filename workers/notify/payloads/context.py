"""What a payload renderer knows besides the firing: the receiver and ftwatch's own URL."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RenderContext:
    """The receiver-side facts a format may need (all formats get the same context)."""

    now: float
    external_url: str | None = None
    receiver: str = "ftwatch"
    routing_key: str | None = None
