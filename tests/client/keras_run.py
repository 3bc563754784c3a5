"""A real Keras 3 training with FtwatchCallback, run as its own process by the tests.

`python -m tests.client.keras_run EPOCHS CHECKPOINT_DIR` with KERAS_BACKEND=jax and the
FTWATCH_* variables set; prints one JSON line: epochs run, the checkpoint saved (and
whether Keras loads it back), the reporter's dropped count.

The data are tests/client/synthetic.py's: `val_loss` gets worse, never better, so a
plateau rule on `valid_loss` fires after `patience` epochs.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import keras
from ftwatch_client.keras import FtwatchCallback

from tests.client.synthetic import regression


def model() -> Any:
    net = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(1)])
    net.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    return net


def main(epochs: int, checkpoint_dir: str) -> dict[str, Any]:
    keras.utils.set_random_seed(0)
    x, y, x_val, y_val = regression(2048, 256)
    net = model()
    callback = FtwatchCallback(
        checkpoint_dir=checkpoint_dir, method="supervised", flush_interval=0.1, close_timeout=5.0
    )
    history = net.fit(
        x, y, validation_data=(x_val, y_val), epochs=epochs, batch_size=32, verbose=0,
        callbacks=[callback],
    )  # fmt: skip
    loadable = callback.checkpoint is not None and bool(
        keras.models.load_model(callback.checkpoint).count_params() == net.count_params()
    )
    reporter = callback.session.reporter if callback.session else None
    return {
        "epochs": len(history.history["loss"]),
        "checkpoint": callback.checkpoint,
        "loadable": loadable,
        "dropped": reporter.dropped if reporter else None,
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), sys.argv[2])))
