from __future__ import annotations

import math

import pytest

from workers.rules.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("10m", 600),
        ("2h", 7200),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("1d", 86400),
        ("6m0s", 360),
        ("500ms", 0.5),
        ("1.5h", 5400),
        ("90", 90),
        (45, 45),
        (2.5, 2.5),
    ],
)
def test_durations_accept_units_and_plain_seconds(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "bad", ["", "10", "10q", "m", "1h30", "-5s", 0, -3, True, None, [], math.inf, math.nan, "400d"]
)
def test_bad_durations_are_refused_with_a_message(bad: object) -> None:
    if bad == "10":
        assert parse_duration(bad) == 10  # a bare number string is seconds, not an error
        return
    with pytest.raises(ValueError, match=r"duration|366d"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "45s"), (600, "10m"), (5400, "1h30m"), (90061, "1d1h"), (0.25, "0.25s")],
)
def test_durations_are_shown_with_their_units(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
