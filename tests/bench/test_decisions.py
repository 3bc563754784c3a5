"""Smoke run of bench/decisions.py: both layouts answer the long-poll with the decision."""

from __future__ import annotations

from pathlib import Path

from bench.decisions import measure


async def test_both_layouts_deliver_the_decision_to_the_long_poll(tmp_path: Path) -> None:
    for roles in (["all"], ["api", "worker"]):
        folder = tmp_path / "-".join(roles)
        folder.mkdir()
        seconds = await measure(roles, 2, folder)
        assert len(seconds) == 2 and all(s >= 0 for s in seconds)
