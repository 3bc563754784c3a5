"""RetryPolicy backoff and Retry-After parsing, as openai-python does them."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from service.upstream.policy import RetryPolicy, exhausted_for, retry_after_seconds

NOW = 1_800_000_000.0


def test_backoff_doubles_up_to_the_cap_without_jitter() -> None:
    policy = RetryPolicy()

    delays = [policy.backoff(n, rand=lambda: 0.0) for n in range(1, 7)]

    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_jitter_takes_off_at_most_a_quarter() -> None:
    policy = RetryPolicy()

    assert policy.backoff(2, rand=lambda: 1.0) == 0.75
    assert policy.backoff(1000, rand=lambda: 0.5) == 8.0 * 0.875  # huge counts stay finite


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after": formatdate(NOW + 30, usegmt=True)}, 30.0),
        ({"retry-after": formatdate(NOW - 30, usegmt=True)}, None),  # past: back off instead
        ({"retry-after": "0"}, None),
        ({"retry-after": "soon"}, None),
        ({"retry-after-ms": "nan", "retry-after": "3"}, 3.0),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers, NOW) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-ratelimit-reset": "4"}, 4.0),  # Together's suggested wait, in seconds
        ({"x-ratelimit-reset": str(NOW + 7)}, 7.0),  # or a unix time
        ({"x-ratelimit-reset": "4", "retry-after": "2"}, 2.0),  # Retry-After wins
        ({"x-ratelimit-reset": "0"}, None),
        ({"x-ratelimit-reset": "later"}, None),
    ],
)
def test_the_rate_limit_reset_stands_in_for_a_missing_retry_after(
    headers: dict[str, str], expected: float | None
) -> None:
    assert retry_after_seconds(headers, NOW) == expected


def test_a_spent_window_holds_until_its_reset_and_only_then() -> None:
    spent = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "3"}
    assert exhausted_for(spent, NOW) == 3.0
    assert exhausted_for(spent | {"x-ratelimit-remaining": "5"}, NOW) is None
    assert exhausted_for({"x-ratelimit-remaining": "0"}, NOW) is None  # no reset: no guess
    assert exhausted_for({}, NOW) is None
