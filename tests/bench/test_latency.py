"""Smoke run of bench/latency.py: every probe leads to a pause, every webhook to a notice."""

from __future__ import annotations

import argparse

from bench.fleet import fleet
from bench.latency import matching_interval, report, run_ftwatch, run_naive
from bench.probes import Side, make_plan


def _args() -> argparse.Namespace:
    return argparse.Namespace(
        jobs=20,
        interval=0.5,
        window=3.0,
        probes=3,
        step_period=1.0,
        running=1.0,
        ftwatch_interval=0.6,  # the iso-latency comparison: ftwatch polls at its own pace
    )


async def test_ftwatch_and_the_naive_watcher_both_pause_every_probed_job() -> None:
    args = _args()
    scenario = fleet(args.jobs, seed=3, running=1.0, queued=0.0, step_period=args.step_period)
    ids = [str(spec.id) for spec in scenario.jobs]
    plan = make_plan(ids, args.window, args.probes)
    args.finishing = plan.finishing
    scenario_json = scenario.model_dump_json()
    ours = await run_ftwatch(scenario_json, ids, plan, args)
    naive = await run_naive(scenario_json, plan, args)
    for side in (ours, naive):
        assert side.missed == 0 and len(side.latencies) == args.probes, side
        assert all(latency >= 0 for latency in side.latencies)
    assert len(ours.webhook) == len(plan.finishing)  # every completion notice arrived
    assert "ratio ftwatch / naive" in report([ours, naive], args)


def test_the_matching_interval_keeps_ftwatch_within_the_naive_watchers_p99() -> None:
    naive = Side("naive")
    naive.latencies = [0.5 + 5.4 * n / 99 for n in range(100)]  # p99 about 5.85 s
    interval = matching_interval(naive)
    assert 5.6 <= interval <= 5.8  # polling this often, ftwatch's p99 stays under 5.85 s
