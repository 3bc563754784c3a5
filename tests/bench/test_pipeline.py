"""Smoke run of bench/pipeline.py: tiny sizes; every event is processed (no speed asserted)."""

from __future__ import annotations

from pathlib import Path

from bench.common import private_redis
from bench.events import fleet_events
from bench.pipeline import (
    CLUSTER_ROW,
    async_raw_loop,
    evaluation_only,
    ftwatch_run,
    raw_entries,
    raw_loop,
    report,
)
from service.store import keys
from simulator.app import create_app as create_simulator
from simulator.platform import Platform
from simulator.presets import generate_scenario
from tests.ha import cluster_set
from tests.support import served


async def test_the_pipeline_benchmark_processes_every_event(tmp_path: Path) -> None:
    per_job = fleet_events(4, 15)
    entries = raw_entries(per_job)
    platform = Platform(generate_scenario(4, 7, running_share=0.0, total_steps=15))
    with private_redis() as server:
        raw = raw_loop(server.url, entries)
        raw_async = await async_raw_loop(server.url, entries)
        alone = evaluation_only(server.url, entries)
        async with served(create_simulator(platform)) as sim_url:
            ours = await ftwatch_run(server.url, per_job, 1, sim_url, tmp_path)
    # All parsed / all decided / all acknowledged.
    assert raw.events == raw_async.events == alone.events == len(entries) == ours.events
    assert ours.seconds > 0
    text = report([[raw, raw_async, alone, ours]], len(entries))
    assert "ftwatch, 1 worker process" in text and "| raw redis-py loop" in text


async def test_the_benchmark_runs_on_a_cluster_and_states_the_ratio(tmp_path: Path) -> None:
    per_job = fleet_events(4, 15)
    platform = Platform(generate_scenario(4, 7, running_share=0.0, total_steps=15))
    try:
        with private_redis() as server, cluster_set(tmp_path / "c", appendonly=False) as cluster:
            await cluster.ready()
            async with served(create_simulator(platform)) as sim_url:
                single = await ftwatch_run(server.url, per_job, 1, sim_url, tmp_path)
                on_cluster = await ftwatch_run(
                    cluster.url, per_job, 1, sim_url, tmp_path, where=CLUSTER_ROW
                )
    finally:
        keys.use_partitions(1)  # ftwatch_run's connect set the cluster's layout
    assert on_cluster.events == single.events == len(raw_entries(per_job))
    text = report([[single, on_cluster]], single.events)
    assert "cluster / single Redis, ftwatch, 1 worker process: " in text
