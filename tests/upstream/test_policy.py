"""RetryPolicy backoff and Retry-After parsing, as openai-python does them."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from service.upstream.policy import RetryPolicy, retry_after_seconds

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
