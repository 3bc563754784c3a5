"""Pick a job's unseen events out of the pages listed newest first (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from service.upstream.models import JobEvent


class RejectedLike(Protocol):
    """A page item that failed validation (see service.upstream.client.RejectedEvent)."""

    position: int
    id: str | None
    error: str


class PageLike(Protocol):
    """A page of events (service.upstream.pages.EventPage)."""

    def entries(self) -> Sequence[tuple[int, JobEvent | RejectedLike]]:
        """Every item with its list position, in page order, valid or rejected."""
        ...


@dataclass
class NewEvents:
    """What one poll found: unseen events oldest first, rejects, and the new cursor."""

    events: list[JobEvent] = field(default_factory=list)
    rejected: list[RejectedLike] = field(default_factory=list)
    newest_id: str | None = None
    reached_cursor: bool = False


def _items(page: PageLike) -> Iterator[tuple[str | None, JobEvent | RejectedLike]]:
    for _, item in page.entries():
        yield item.id, item


def select_new(pages: Iterable[PageLike], cursor: str | None) -> NewEvents:
    """Walk pages newest first until the cursor; return what lies after it, oldest first.

    Order comes from list position only: ids are not sortable and created_at repeats.
    Duplicates by id (an event repeated across pages) are kept once.
    """
    found = NewEvents()
    seen: set[str] = set()
    newest_first: list[JobEvent] = []
    for page in pages:
        for item_id, item in _items(page):
            if found.newest_id is None and item_id:
                found.newest_id = item_id
            if cursor is not None and item_id == cursor:
                found.reached_cursor = True
                break
            if item_id and item_id in seen:
                continue
            if item_id:
                seen.add(item_id)
            if isinstance(item, JobEvent):
                newest_first.append(item)
            else:
                found.rejected.append(item)
        if found.reached_cursor:
            break
    found.events = newest_first[::-1]
    return found


def page_has_cursor(page: PageLike, cursor: str | None) -> bool:
    """True when the cursor is on this page, so no older page is needed."""
    if cursor is None:
        return False
    return any(item_id == cursor for item_id, _ in _items(page))
