"""Newest-first pages by position, with `after` cursors."""

from __future__ import annotations

from simulator.pagination import NewestFirstLog


def test_pages_walk_back_from_the_cursor_without_gaps_or_repeats() -> None:
    log = NewestFirstLog()
    for n in range(10):
        log.append({"id": f"e{n}"}, float(n))
    seen, after, more = [], None, True
    while more:
        page, more = log.page(after, 3)
        seen += [item["id"] for item in page]
        after = page[-1]["id"]
    assert seen == [f"e{n}" for n in range(9, -1, -1)]
    assert log.page("e0", 3) == ([], False)
    assert log.page("unknown", 3) == ([], False)


def test_items_without_string_ids_are_listed_but_never_cursors() -> None:
    log = NewestFirstLog()
    log.append({"id": 5}, 0.0)
    log.append("raw", 1.0)
    log.append({"id": "a"}, 2.0)
    assert log.page(None, 10) == ([{"id": "a"}, "raw", {"id": 5}], False)
    assert log.page("a", 1) == (["raw"], True)
    assert log.position("a") == 2 and log.position("5") is None
