"""Smoke runs of bench/cadence.py: both watchers, and ftwatch under a budget, read every event."""

from __future__ import annotations

import argparse

from bench.cadence import budget_report, cadence_fleet, report, run_budgeted, run_ftwatch, run_naive


async def test_ftwatch_and_the_naive_watcher_both_read_every_event() -> None:
    args = argparse.Namespace(jobs=4, interval=0.5, warmup=2.0, window=3.0)
    scenario = cadence_fleet(args.jobs, (0.4, 0.6))
    ours = await run_ftwatch(scenario, args, factor=6.0)
    naive = await run_naive(scenario, args)
    for side in (ours, naive):
        assert side.missed == 0 and len(side.latencies) > 10, side
        assert side.requests > 0
    assert "| naive openai-SDK watcher |" in report("dense", [ours, naive], args)


async def test_under_a_budget_ftwatch_reads_every_event_and_counts_predictions() -> None:
    args = argparse.Namespace(
        jobs=4, interval=1.0, warmup=1.0, window=4.0, tail=7.0, budget=20.0, concurrency=None
    )
    side = await run_budgeted(cadence_fleet(args.jobs, (1.5, 2.0)), args, factor=6.0)
    assert side.missed == 0 and len(side.latencies) > 4, side
    assert 0 < side.rate <= args.budget and side.warmup_s > 0
    assert sum(side.outcomes.values()) > 0
    assert "| ftwatch (FTWATCH_MAX_POLL_FACTOR=6) |" in budget_report(
        "sparse", [side], args, ("0", "0")
    )
