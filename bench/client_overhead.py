"""What the trainer-side client costs a training: per step, on a whole Keras run, in memory.

1. Per step: the Keras callback's `on_train_batch_end` and the Transformers callback's
   `on_step_end` + `on_log`, called in a loop while a real `ftwatch run` receives what
   they send (the sender thread competes for the GIL, as it does in a training).
2. A whole Keras 3 run (JAX backend, CPU): `model.fit` with and without FtwatchCallback
   (defaults: batch metrics at most once a second, every epoch end), in interleaved
   rounds (alternating which runs first); the median of each round's own ratio. Two
   models: the tests' tiny linear one (the worst case: a step costs almost nothing, so
   the callback's share is largest) and a small MLP.
3. Memory with ftwatch unreachable: a Reporter on a closed port takes `log()` calls;
   tracemalloc's count of what is held after 10k, 100k and 1M calls (the queue is bounded
   by `max_queue`, default 5,000 events).

Run: python -m bench.client_overhead [--rounds 5 --epochs 10 --calls 20000 --events 1000000]
Target: the callback costs < 2% of a Keras run's time; memory stays bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")  # before keras is imported anywhere
os.environ.setdefault("JAX_PLATFORMS", "cpu")


import keras
import numpy as np
from ftwatch_client import Reporter
from ftwatch_client.keras import FtwatchCallback as KerasCallback
from ftwatch_client.transformers import FtwatchCallback as HfCallback
from transformers import TrainerControl, TrainerState

from bench.common import command_line, ftwatch_processes, machine, private_redis, table
from tests.support import free_port

TOKEN = "bench-ingest-token"
HEADERS = [
    *("model", "steps", "ms per step", "fit s, bare", "fit s, callback"),
    *("wall overhead", "per round", "CPU overhead"),
]
Row = list[object]


@contextmanager
def ftwatch() -> Iterator[str]:
    """A real `ftwatch run` (default rules) on a private Redis; yields its URL."""
    with private_redis() as server, tempfile.TemporaryDirectory() as logdir:
        env = {
            "FTWATCH_REDIS_URL": server.url,
            "FTWATCH_API_TOKEN": "bench-admin-token",
            "FTWATCH_INGEST_TOKEN": TOKEN,
            "OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",  # no hosted account
            "OPENAI_API_KEY": "sk-bench",
        }
        with ftwatch_processes(env, ["all"], Path(logdir)) as procs:
            asyncio.run(procs[0].wait_healthy(timeout=60))
            yield procs[0].url


def _per_call(calls: int, body: Callable[[int], None]) -> float:
    started = time.perf_counter()
    for i in range(calls):
        body(i)
    return (time.perf_counter() - started) / calls * 1e6


def per_step(url: str, calls: int) -> list[Row]:
    """µs per training step spent in each callback's hooks."""
    net = tiny_model()
    keras_cb = KerasCallback(url=url, token=TOKEN, job_id="bench-keras-steps", max_queue=calls)
    keras_cb.set_model(net)
    keras_cb.set_params({"epochs": 1, "steps": calls, "verbose": 0})
    keras_cb.on_train_begin()
    keras_cb.on_epoch_begin(0)
    logs = {"loss": 0.5, "accuracy": 0.7}

    def keras_step(i: int) -> None:  # the training thread's hook, then the worker thread's
        keras_cb.on_train_batch_begin(i)
        keras_cb.on_train_batch_end(i, logs)

    keras_us = _per_call(calls, keras_step)
    keras_cb.on_train_end()
    hf = HfCallback(url=url, token=TOKEN, job_id="bench-hf-steps", max_queue=calls)
    args, state, control = _HfArgs(), TrainerState(max_steps=calls), TrainerControl()
    hf.on_train_begin(args, state, control)
    hf_logs = {"loss": 0.5, "grad_norm": 1.0, "learning_rate": 1e-5, "epoch": 0.1}

    def hf_step(i: int) -> None:
        state.global_step = i + 1
        hf.on_step_end(args, state, control)
        hf.on_log(args, state, control, logs=hf_logs)

    hf_us = _per_call(calls, hf_step)
    hf.on_train_end(args, state, control)
    return [
        ["Keras on_train_batch_begin + _end (defaults)", calls, keras_us],
        ["Transformers on_step_end + on_log (a log every step)", calls, hf_us],
    ]


class _HfArgs:
    output_dir = tempfile.gettempdir()


def data(samples: int = 2048, seed: int = 0) -> tuple[Any, Any, Any, Any]:
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(8, 1))
    x, x_val = rng.normal(size=(samples, 8)), rng.normal(size=(256, 8))
    return x, x @ weights, x_val, x_val @ weights


def tiny_model() -> Any:
    net = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(1)])
    net.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return net


def mlp_model() -> Any:
    layers = [keras.layers.Dense(256, activation="relu") for _ in range(2)]
    net = keras.Sequential([keras.Input(shape=(8,)), *layers, keras.layers.Dense(1)])
    net.compile(optimizer=keras.optimizers.Adam(0.001), loss="mse")
    return net


def _fit(net: Any, epochs: int, callbacks: list[Any]) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds (the sender thread's included)."""
    x, y, x_val, y_val = data()
    started, cpu = time.perf_counter(), time.process_time()
    net.fit(x, y, validation_data=(x_val, y_val), epochs=epochs, batch_size=32, verbose=0,
            callbacks=callbacks)  # fmt: skip
    return time.perf_counter() - started, time.process_time() - cpu


def whole_run(url: str, model: tuple[Callable[[], Any], str, str], epochs: int, rounds: int) -> Row:
    """One model's fit with and without the callback, interleaved; medians.
    `model`: its constructor, its name in the table, a short label for job ids."""
    make, name, label = model
    bare, watched = make(), make()
    _fit(bare, 1, [])  # compile both before timing
    _fit(watched, 1, [KerasCallback(url=url, token=TOKEN, job_id=f"warm-{label}")])
    plain: list[tuple[float, float]] = []
    ours: list[tuple[float, float]] = []
    for index in range(rounds):
        callback = KerasCallback(url=url, token=TOKEN, job_id=f"bench-{label}-{index}")
        if index % 2:  # alternate which goes first: no side gains from the order
            ours.append(_fit(watched, epochs, [callback]))
            plain.append(_fit(bare, epochs, []))
        else:
            plain.append(_fit(bare, epochs, []))
            ours.append(_fit(watched, epochs, [callback]))
    wall = [o[0] / p[0] - 1 for o, p in zip(ours, plain, strict=True)]
    cpu = [o[1] / p[1] - 1 for o, p in zip(ours, plain, strict=True)]
    bare_s = statistics.median(p[0] for p in plain)
    return [
        *(name, epochs * 64, bare_s / (epochs * 64) * 1e3, bare_s),
        statistics.median(o[0] for o in ours),
        f"{statistics.median(wall):+.1%}",
        f"{min(wall):+.1%} to {max(wall):+.1%}",
        f"{statistics.median(cpu):+.1%}",
    ]


def memory(events: int) -> list[Row]:
    """What a Reporter holds while ftwatch is unreachable, as `log()` calls pile up."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    reporter = Reporter(f"http://127.0.0.1:{free_port()}", TOKEN, "bench-memory")
    rows: list[Row] = []
    checkpoints = sorted({min(events, n) for n in (10_000, 100_000, events)})
    done, started = 0, time.perf_counter()
    metrics = {"train_loss": 0.5, "learning_rate": 1e-5, "grad_norm": 1.0, "epoch": 0.1}
    for mark in checkpoints:
        for step in range(done, mark):
            reporter.log(step, metrics)
        done = mark
        held = (tracemalloc.get_traced_memory()[0] - base) / 2**20
        rows.append([f"{mark:,} log() calls", reporter.queued, reporter.dropped, held])
    per_call = (time.perf_counter() - started) / events * 1e6
    peak = (tracemalloc.get_traced_memory()[1] - base) / 2**20
    reporter.close(timeout=0.5)
    tracemalloc.stop()
    rows.append([f"peak; {per_call:.1f} µs per log() (traced)", "", "", peak])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of 64 steps per fit")
    parser.add_argument("--calls", type=int, default=20_000, help="hook calls per callback")
    parser.add_argument("--events", type=int, default=1_000_000, help="log() calls, unreachable")
    args = parser.parse_args(argv)
    fits = (args.epochs, args.rounds)
    with ftwatch() as url:
        steps = per_step(url, args.calls)
        runs = [
            whole_run(url, (tiny_model, "tiny linear (Dense 8→1)", "tiny"), *fits),
            whole_run(url, (mlp_model, "MLP 8→256→256→1", "mlp"), *fits),
        ]
    print(report(steps, runs, memory(args.events), args))
    return 0


def report(steps: list[Row], runs: list[Row], held: list[Row], args: Any) -> str:
    return "\n".join(
        [
            f"command: {command_line()}",
            f"machine: {machine()}, keras {keras.__version__} (JAX backend, CPU)",
            "",
            "Per step, the callback's hooks while a real ftwatch receives what they send:",
            "",
            table(["hooks", "calls", "µs per step"], steps),
            "",
            f"Whole Keras runs, {args.epochs} epochs each (batch 32, validation every epoch),"
            f" {args.rounds} interleaved rounds, medians; overhead = with / without - 1"
            " (CPU: this process's, the sender thread's included; ftwatch runs on the same"
            " cores):",
            "",
            table(HEADERS, runs),
            "",
            "Memory with ftwatch unreachable (tracemalloc, the Reporter's own allocations):",
            "",
            table(["after", "queued", "dropped", "MiB held"], held),
            "",
            "target: the callback costs < 2% of a Keras run; memory stays bounded",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
