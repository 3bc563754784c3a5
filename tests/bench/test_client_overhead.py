"""Smoke run of bench/client_overhead.py: tiny sizes; the figures exist (no speed asserted)."""

from __future__ import annotations

from argparse import Namespace

from bench.client_overhead import memory, report, tiny_model, whole_run
from tests.support import free_port


def test_the_client_benchmark_measures_runs_and_bounded_memory() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # unreachable: the callback's worst wait
    run = whole_run(url, (tiny_model, "tiny", "tiny"), 1, 1)
    assert run[:2] == ["tiny", 64] and all(isinstance(v, float) and v > 0 for v in run[2:5])
    held = memory(6000)
    (_, queued, dropped, _), _ = held
    assert isinstance(queued, int) and isinstance(dropped, int)
    # The queue's bound (less a batch the sender may hold), the oldest dropped.
    assert 4900 <= queued <= 5000 and queued + dropped >= 5900
    text = report([], [run], held, Namespace(epochs=1, rounds=1))
    assert "| tiny | 64 |" in text and "MiB held" in text
