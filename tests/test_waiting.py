"""wait_event: an event or a timeout, and a cancellation is never lost (issue 16)."""

from __future__ import annotations

import asyncio

import pytest

from workers.waiting import wait_event


async def test_it_says_whether_the_event_came() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    event.set()
    assert await wait_event(event, 10) is True


async def test_a_cancel_arriving_with_the_event_is_not_lost() -> None:
    # The lost cancel: a delivery lane woken (an attempt finished) in the same loop
    # iteration as the worker cancelled it. Under 3.11's wait_for the waiter returned
    # as if woken and the lane looped on, so DeliveryWorker.run() never finished.
    event = asyncio.Event()
    waiter = asyncio.create_task(wait_event(event, 10))
    await asyncio.sleep(0)  # one loop iteration: the waiter is now blocked on the event
    event.set()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert waiter.cancelled()


async def test_a_loop_built_on_it_ends_when_cancelled_as_it_is_woken() -> None:
    wake, rounds = asyncio.Event(), 0

    async def lane() -> None:
        nonlocal rounds
        while rounds < 1000:  # bounded: a lost cancel fails the test instead of hanging
            rounds += 1
            await wait_event(wake, 10)
            wake.clear()

    task = asyncio.create_task(lane())
    await asyncio.sleep(0)
    wake.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rounds == 1
