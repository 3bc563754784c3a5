"""Smoke run of bench/client_overhead.py: tiny sizes; the figures exist (no speed asserted)."""

from __future__ import annotations

from argparse import Namespace

from bench.client_overhead import accounting, memory, report, tiny_model, whole_run
from tests.support import free_port


def test_the_client_benchmark_measures_runs_and_bounded_memory() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # unreachable: the callback's worst wait
    run = whole_run(url, (tiny_model, "tiny", "tiny"), (1, 2048), 1)
    assert run[:2] == ["tiny", 64]
    assert all(isinstance(v, float) and v > 0 for v in (run[2], run[3], run[4], run[8]))
    assert all(str(run[i]).endswith("%)") for i in (5, 6, 9, 10))  # median (quartiles)
    assert all(str(run[i]).endswith("%") for i in (7, 11))  # best of the rounds
    held = memory(6000)
    (_, queued, dropped, _), _ = held
    assert isinstance(queued, int) and isinstance(dropped, int)
    # The queue's bound (less a batch the sender may hold), the oldest dropped.
    assert 4900 <= queued <= 5000 and queued + dropped >= 5900
    spent = accounting(url, (tiny_model, "tiny", "tiny"), (1, 2048))
    assert "on_train_batch_end" in {row[1] for row in spent} and "all: " in str(spent[-1][1])
    text = report(
        [], [run], spent, held, Namespace(epochs=1, samples=2048, rounds=1, lightning_rounds=0)
    )
    assert "| tiny | 64 |" in text and "MiB held" in text and "| tiny | all: " in text
