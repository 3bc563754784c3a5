"""parse_event_page: each event validated alone, order and cursor kept."""

from __future__ import annotations

from typing import Any

import pytest

from service.upstream.models import JobEvent
from service.upstream.pages import RejectedEvent, parse_event_page


def ev(event_id: str) -> dict[str, Any]:
    return {"id": event_id, "created_at": 1, "level": "info", "message": "m", "data": None}


def test_entries_merge_valid_and_rejected_back_into_page_order() -> None:
    got = parse_event_page({"data": [ev("a"), "garbage", ev("c"), {"id": 7}], "has_more": False})

    order = [(pos, type(item).__name__) for pos, item in got.entries()]
    assert order == [(0, "JobEvent"), (1, "RejectedEvent"), (2, "JobEvent"), (3, "RejectedEvent")]
    assert got.size == 4
    assert got.rejected[0] == RejectedEvent(1, None, got.rejected[0].error, '"garbage"')
    assert got.rejected[1].id is None  # a non-string id is no id


def test_without_an_id_on_the_last_item_the_cursor_is_the_nearest_earlier_id() -> None:
    got = parse_event_page({"data": [ev("a"), ev("b"), {"created_at": 1}], "has_more": True})

    assert got.last_id == "b"


def test_an_empty_page_has_no_cursor() -> None:
    got = parse_event_page({"object": "list", "data": []})

    assert (got.events, got.last_id, got.has_more) == ([], None, False)


def test_null_data_and_level_on_message_events_are_fine() -> None:
    got = parse_event_page({"data": [{**ev("a"), "level": None, "type": None}]})

    assert got.events == [JobEvent(id="a", created_at=1, message="m")]
    assert got.rejected == []


@pytest.mark.parametrize("payload", [None, [], {"data": None}, {"data": {"a": 1}}, "x"])
def test_a_broken_envelope_raises_so_the_client_retries(payload: Any) -> None:
    with pytest.raises(ValueError, match="data"):
        parse_event_page(payload)


def test_the_raw_snippet_is_short_and_the_error_hides_values() -> None:
    secret_like = "s" * 5000
    got = parse_event_page({"data": [{"id": "x", "created_at": secret_like}]})

    assert len(got.rejected[0].raw) <= 200
    assert secret_like not in got.rejected[0].error
    assert got.rejected[0].error.startswith("created_at:")
