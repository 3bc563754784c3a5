"""Smoke run of bench/cadence.py: both watchers read every event of the window."""

from __future__ import annotations

import argparse

from bench.cadence import cadence_fleet, report, run_ftwatch, run_naive


async def test_ftwatch_and_the_naive_watcher_both_read_every_event() -> None:
    args = argparse.Namespace(jobs=4, interval=0.5, warmup=2.0, window=3.0)
    scenario = cadence_fleet(args.jobs, (0.4, 0.6))
    ours = await run_ftwatch(scenario, args, factor=6.0)
    naive = await run_naive(scenario, args)
    for side in (ours, naive):
        assert side.missed == 0 and len(side.latencies) > 10, side
        assert side.requests > 0
    assert "| naive openai-SDK watcher |" in report("dense", [ours, naive], args)
