"""Render a firing in a receiver's format: `render(format, firing, now=...)` -> body bytes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from service.models.firing import Firing
from workers.notify.payloads import alertmanager, pagerduty, slack, standard
from workers.notify.payloads.context import RenderContext
from workers.notify.payloads.encoding import encode

JSON: Final = "application/json"

# A body is a JSON object, or (alertmanager) an array of alerts.
_BUILDERS: Final[Mapping[str, Callable[[Firing, RenderContext], object]]] = MappingProxyType(
    {
        "standard": standard.build,
        "slack": slack.build,
        "alertmanager": alertmanager.build,
        "pagerduty": pagerduty.build,
    }
)
FORMATS: Final = tuple(_BUILDERS)


@dataclass(frozen=True, slots=True)
class RenderedPayload:
    """What to POST: the exact body bytes (sign these), their type, headers beyond signing."""

    body: bytes
    content_type: str = JSON
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    path: str = ""  # appended to the receiver's URL (PagerDuty's is the events base)


def render(
    format: str,
    firing: Firing,
    *,
    now: float,
    external_url: str | None = None,
    receiver: str = "ftwatch",
    routing_key: str | None = None,
) -> RenderedPayload:
    """The body of `firing` for a receiver of `format`; ValueError for an unknown format."""
    builder = _BUILDERS.get(format)
    if builder is None:
        raise ValueError(f"unknown receiver format {format!r}; expected one of {FORMATS}")
    ctx = RenderContext(
        now=now, external_url=external_url, receiver=receiver, routing_key=routing_key
    )
    where = pagerduty.path(firing) if format == "pagerduty" else ""
    return RenderedPayload(body=encode(builder(firing, ctx)), path=where)


def error_detail(format: str, body: str) -> str | None:
    """The receiver's own explanation in an error body, when its format has one."""
    return pagerduty.error_message(body) if format == "pagerduty" else None


__all__ = ["FORMATS", "RenderContext", "RenderedPayload", "error_detail", "render"]
