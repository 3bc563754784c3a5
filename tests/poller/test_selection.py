"""Choosing unseen events from pages listed newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from service.upstream.models import JobEvent
from service.upstream.selection import page_has_cursor, select_new


@dataclass
class Rejected:
    id: str | None
    error: str = "bad"
    position: int = 0


@dataclass
class Page:
    items: Sequence[JobEvent | Rejected] = field(default_factory=list)

    def entries(self) -> list[tuple[int, JobEvent | Rejected]]:
        return list(enumerate(self.items))


def ev(n: int) -> JobEvent:
    return JobEvent(id=f"ev-{n}", created_at=1_700_000_000)  # created_at repeats on purpose


def pages_of(newest_first: list[JobEvent | Rejected], size: int) -> list[Page]:
    return [Page(newest_first[i : i + size]) for i in range(0, len(newest_first), size)]


def test_first_poll_takes_everything_oldest_first() -> None:
    pages = pages_of([ev(n) for n in range(9, -1, -1)], 4)
    found = select_new(pages, cursor=None)
    assert [e.id for e in found.events] == [f"ev-{n}" for n in range(10)]
    assert found.newest_id == "ev-9"
    assert not found.reached_cursor


def test_stops_at_the_cursor_across_pages() -> None:
    pages = pages_of([ev(n) for n in range(300, 0, -1)], 100)
    found = select_new(pages, cursor="ev-50")
    assert [e.id for e in found.events] == [f"ev-{n}" for n in range(51, 301)]
    assert found.reached_cursor


def test_no_new_events_keeps_nothing() -> None:
    found = select_new([Page([ev(3), ev(2)])], cursor="ev-3")
    assert found.events == []
    assert found.newest_id == "ev-3"


def test_rejected_items_keep_their_place_and_can_be_the_cursor() -> None:
    bad = Rejected(id="ev-5")
    found = select_new([Page([ev(6), bad, ev(4)])], cursor=None)
    assert [e.id for e in found.events] == ["ev-4", "ev-6"]
    assert found.rejected == [bad]
    assert select_new([Page([ev(7), bad])], cursor="ev-5").events == [ev(7)]


def test_an_event_repeated_on_two_pages_is_kept_once() -> None:
    found = select_new([Page([ev(3), ev(2)]), Page([ev(2), ev(1)])], cursor=None)
    assert [e.id for e in found.events] == ["ev-1", "ev-2", "ev-3"]


def test_page_has_cursor() -> None:
    assert page_has_cursor(Page([ev(2), ev(1)]), "ev-1")
    assert not page_has_cursor(Page([ev(2)]), "ev-1")
    assert not page_has_cursor(Page([ev(2)]), None)
