"""An events page validated item by item, so one malformed event does not lose the page. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from service.upstream.errors import describe_invalid, snippet
from service.upstream.models import JobEvent


@dataclass  # not frozen: structural protocols (workers/poller) declare plain attributes
class RejectedEvent:
    """An item of the page that is not a valid event, kept with its place in the page."""

    position: int
    id: str | None
    error: str
    raw: str


@dataclass(frozen=True)
class EventPage:
    """One page of `GET /fine_tuning/jobs/{id}/events`, newest first, as upstream ordered it."""

    events: list[JobEvent]
    positions: list[int]  # positions[i] is the index of events[i] in the raw page
    rejected: list[RejectedEvent]
    has_more: bool
    last_id: str | None  # the cursor for the next (older) page
    size: int  # number of raw items, valid or not

    def entries(self) -> list[tuple[int, JobEvent | RejectedEvent]]:
        """Valid and rejected items merged back into page order."""
        merged: list[tuple[int, JobEvent | RejectedEvent]] = list(
            zip(self.positions, self.events, strict=True)
        )
        merged.extend((r.position, r) for r in self.rejected)
        return sorted(merged, key=lambda pair: pair[0])


def parse_event_page(payload: Any) -> EventPage:
    """Validate each event on its own; raise ValueError only if the envelope itself is broken."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        raise ValueError("expected an object with a `data` list")
    events: list[JobEvent] = []
    positions: list[int] = []
    rejected: list[RejectedEvent] = []
    for position, item in enumerate(data):
        try:
            events.append(JobEvent.model_validate(item))
            positions.append(position)
        except ValidationError as exc:
            rejected.append(
                RejectedEvent(position, _raw_id(item), describe_invalid(exc), _raw_text(item))
            )
    return EventPage(
        events=events,
        positions=positions,
        rejected=rejected,
        has_more=payload.get("has_more") is True,
        last_id=_cursor(data),
        size=len(data),
    )


def _raw_id(item: Any) -> str | None:
    value = item.get("id") if isinstance(item, dict) else None
    return value if isinstance(value, str) and value else None


def _cursor(data: list[Any]) -> str | None:
    # The last item's id, valid or not, so paging goes on past a malformed event. If the
    # last item has no id, the nearest earlier id re-reads a few items, which callers dedupe.
    for item in reversed(data):
        if (found := _raw_id(item)) is not None:
            return found
    return None


def _raw_text(item: Any) -> str:
    try:
        text = json.dumps(item, default=repr, ensure_ascii=False)
    except ValueError:  # circular structures cannot come from JSON, but stay total
        text = repr(item)
    return snippet(text)
