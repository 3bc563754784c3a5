"""Throttle: a 429's instant holds every request; later blocks only extend it."""

from __future__ import annotations

from service.upstream.throttle import Throttle
from tests.upstream.conftest import FakeClock


def test_open_until_blocked() -> None:
    clock = FakeClock()
    throttle = Throttle(clock=clock, sleep=clock.sleep)

    assert throttle.remaining() == 0.0
    throttle.block_for(1.5)
    assert throttle.remaining() == 1.5
    clock.now += 1.0
    assert throttle.remaining() == 0.5


def test_a_shorter_block_never_shortens_a_longer_one() -> None:
    clock = FakeClock()
    throttle = Throttle(clock=clock, sleep=clock.sleep)

    throttle.block_for(10)
    throttle.block_for(2)

    assert throttle.remaining() == 10.0
    assert throttle.blocked_until == clock.now + 10


async def test_wait_sleeps_until_open_and_not_when_open() -> None:
    clock = FakeClock()
    throttle = Throttle(clock=clock, sleep=clock.sleep)

    assert await throttle.wait() == 0.0
    throttle.block_for(3)
    assert await throttle.wait() == 3.0
    assert clock.sleeps == [3.0]
    assert throttle.remaining() == 0.0


async def test_wait_honours_a_block_extended_while_sleeping() -> None:
    clock = FakeClock()

    async def sleep(seconds: float) -> None:
        await clock.sleep(seconds)
        if len(clock.sleeps) == 1:  # another call hit a 429 meanwhile
            throttle.block_for(2)

    throttle = Throttle(clock=clock, sleep=sleep)
    throttle.block_for(1)

    assert await throttle.wait() == 3.0
    assert clock.sleeps == [1.0, 2.0]


def test_negative_durations_do_not_block() -> None:
    clock = FakeClock()
    throttle = Throttle(clock=clock, sleep=clock.sleep)

    throttle.block_for(-5)

    assert throttle.remaining() == 0.0
