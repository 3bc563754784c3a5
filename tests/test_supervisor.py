"""The Supervisor with real loops; time is driven by the test (a gate and a clock)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from structlog.testing import capture_logs

from service.metrics import Metrics
from workers.supervisor import RestartPolicy, Supervisor

POLICY = RestartPolicy(base=0.5, cap=4.0, stable_after=60.0, flap_window=300.0, flap_limit=3)


class Gate:
    """The backoff pause: records each delay and waits until the test opens it."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.entered: asyncio.Queue[float] = asyncio.Queue()
        self._opened: asyncio.Queue[None] = asyncio.Queue()

    async def pause(self, delay: float) -> None:
        self.delays.append(delay)
        self.entered.put_nowait(delay)
        await self._opened.get()

    def open(self) -> None:
        self._opened.put_nowait(None)


class Clock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Flaky:
    """A loop that raises on its first `failures` runs, then runs until `stop`."""

    def __init__(self, stop: asyncio.Event, failures: int, clock: Clock | None = None) -> None:
        self.stop, self.failures, self.clock = stop, failures, clock
        self.runs = 0
        self.running = asyncio.Event()
        self.run_seconds = 0.0  # how long each crashing run lasts, on the fake clock

    async def run(self) -> None:
        self.runs += 1
        if self.runs <= self.failures:
            if self.clock is not None:
                self.clock.now += self.run_seconds
            raise RuntimeError(f"boom {self.runs}")
        self.running.set()
        await self.stop.wait()


def supervisor(
    metrics: Metrics, gate: Gate | None = None, clock: Callable[[], float] | None = None
) -> Supervisor:
    return Supervisor(
        asyncio.Event(),
        metrics.loop_restarts,
        policy=POLICY,
        jitter=lambda: 0.5,
        pause=gate.pause if gate else None,
        **({"clock": clock} if clock else {}),
    )


def restarts(metrics: Metrics, loop: str) -> float | None:
    return metrics.registry.get_sample_value("ftwatch_loop_restarts_total", {"loop": loop})


async def test_a_loop_that_crashes_twice_is_restarted_and_counted() -> None:
    metrics, gate = Metrics(), Gate()
    sup = supervisor(metrics, gate)
    loop = Flaky(sup.stop_event, failures=2)
    with capture_logs() as logs:
        sup.start("rules-worker", loop.run)
        assert restarts(metrics, "rules-worker") == 0.0  # the series exists before a crash
        await gate.entered.get()
        assert sup.states() == {"rules-worker": "restarting"}
        assert sup.problems() == [
            "loop rules-worker restarting: crashed 1 time, last: RuntimeError: boom 1"
        ]
        gate.open()
        await gate.entered.get()
        assert sup.problems() == [
            "loop rules-worker restarting: crashed 2 times, last: RuntimeError: boom 2"
        ]
        gate.open()
        await loop.running.wait()
    assert sup.states() == {"rules-worker": "running"}
    assert sup.problems() == []
    assert restarts(metrics, "rules-worker") == 2.0
    # Equal jitter at 0.5: three quarters of each step (0.5 s, then 1 s).
    assert gate.delays == [0.375, 0.75]
    crashes = [e for e in logs if e["event"] == "loop_crashed"]
    assert [(e["loop"], e["attempt"], e["next_delay"]) for e in crashes] == [
        ("rules-worker", 1, 0.375),
        ("rules-worker", 2, 0.75),
    ]
    assert all(isinstance(e["exc_info"], RuntimeError) for e in crashes)
    await sup.stop(grace=5.0)
    assert sup.states() == {"rules-worker": "stopped"}
    assert loop.runs == 3


async def test_shutdown_cancels_a_loop_that_ignores_stop_within_the_grace() -> None:
    sup = supervisor(Metrics())
    stubborn_started, never = asyncio.Event(), asyncio.Event()

    async def stubborn() -> None:
        stubborn_started.set()
        await never.wait()  # ignores stop: only a cancel ends it

    sup.start("stubborn", stubborn)
    await stubborn_started.wait()
    loop_time = asyncio.get_running_loop().time
    began = loop_time()
    with capture_logs() as logs:
        await sup.stop(grace=0.05)
    # The bound is the grace plus one cancel round; 1 s leaves room for a slow machine.
    assert loop_time() - began < 1.0
    assert sup.states() == {"stubborn": "stopped"}
    assert [e["event"] for e in logs] == ["loop_stop_timeout"]


async def test_stop_during_backoff_ends_the_loop_without_restarting_it() -> None:
    metrics = Metrics()
    sup = supervisor(metrics)  # the real pause: wait_event(stop, delay)
    crashed = asyncio.Event()

    async def crash() -> None:
        crashed.set()
        raise RuntimeError("always")

    sup.start("ticker", crash)
    await crashed.wait()
    await sup.stop(grace=5.0)  # the 0.375 s backoff is cut short by stop, not waited out
    assert sup.states() == {"ticker": "stopped"}
    assert restarts(metrics, "ticker") == 0.0


async def test_a_cancelled_loop_is_not_restarted() -> None:
    metrics = Metrics()
    sup = supervisor(metrics)
    waiting: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    started, runs = asyncio.Event(), 0

    async def waits() -> None:
        nonlocal runs
        runs += 1
        started.set()
        await waiting

    sup.start("lane", waits)
    await started.wait()
    waiting.cancel()  # CancelledError inside the loop: a cancel, not a crash
    await sup.wait()
    assert runs == 1
    assert sup.states() == {"lane": "stopped"}
    assert restarts(metrics, "lane") == 0.0
    assert sup.problems() == []


async def test_a_returning_loop_is_not_restarted() -> None:
    sup = supervisor(Metrics())
    runs = 0

    async def once() -> None:
        nonlocal runs
        runs += 1

    with capture_logs() as logs:
        sup.start("once", once)
        await sup.wait()
    assert runs == 1
    assert sup.states() == {"once": "stopped"}
    assert [e["event"] for e in logs] == ["loop_returned"]  # before stop: said, not silent


async def test_a_long_healthy_run_starts_the_backoff_over() -> None:
    clock, gate = Clock(), Gate()
    sup = supervisor(Metrics(), gate, clock)
    loop = Flaky(sup.stop_event, failures=3, clock=clock)
    sup.start("poller", loop.run)
    await gate.entered.get()
    gate.open()
    await gate.entered.get()
    loop.run_seconds = POLICY.stable_after  # the third run lasts a minute before it crashes
    gate.open()
    await gate.entered.get()
    gate.open()
    await loop.running.wait()
    assert gate.delays == [0.375, 0.75, 0.375]
    await sup.stop(grace=5.0)


async def test_crash_looping_is_not_ready_until_the_window_passes() -> None:
    clock, gate = Clock(), Gate()
    sup = supervisor(Metrics(), gate, clock)
    loop = Flaky(sup.stop_event, failures=POLICY.flap_limit + 1, clock=clock)
    sup.start("action-queue", loop.run)
    for _ in range(POLICY.flap_limit + 1):
        await gate.entered.get()
        gate.open()
    await loop.running.wait()
    assert sup.states() == {"action-queue": "running"}
    assert sup.problems() == [
        "loop action-queue crash-looping: crashed 4 times in the last 300s,"
        " last: RuntimeError: boom 4"
    ]
    clock.now += POLICY.flap_window + 1  # it has run fine for the whole window
    assert sup.problems() == []
    await sup.stop(grace=5.0)


def test_the_backoff_doubles_up_to_the_cap_with_jitter_within_half() -> None:
    policy = RestartPolicy(base=0.5, cap=30.0)
    assert [policy.delay(n, 1.0) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert [policy.delay(n, 0.0) for n in (1, 7, 1000)] == [0.25, 15.0, 15.0]


async def test_loop_names_are_unique() -> None:
    sup = supervisor(Metrics())
    loop = Flaky(sup.stop_event, failures=0)
    sup.start("poller", loop.run)
    with pytest.raises(ValueError, match="supervised already"):
        sup.start("poller", loop.run)
    await sup.stop(grace=5.0)
    assert loop.runs == 1
