"""Smoke run of bench/scale.py: a tiny fleet; terminal jobs are never polled, events arrive."""

from __future__ import annotations

from bench.scale import Config, report, run_size


async def test_the_scale_benchmark_measures_a_tiny_fleet() -> None:
    cfg = Config(budget=40, interval=0.5, window=2.0, step_period=0.5, discovery=1.0)
    row = await run_size(20, 1, cfg)
    assert row.events > 0 and row.requests > 0
    assert row.polls["running"] > 0
    assert row.polls["finished"] == 0  # terminal jobs are never polled
    assert row.rate <= cfg.budget * 1.2
    assert "| 20 | 1 |" in report([row], cfg)
