"""The training children's data: a linear mapping to learn, and evaluation targets that are
noise unrelated to the inputs.

As a model learns the training mapping its evaluation loss gets worse, never really better,
so a plateau rule on `valid_loss` fires after `patience` evaluations, whatever the framework.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]


def regression(samples: int, evaluation: int, seed: int = 0) -> tuple[Array, Array, Array, Array]:
    """x, y (y = x·w + a little noise), x_val, y_val (noise): float32, 8 features."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(8, 1))
    x, x_val = rng.normal(size=(samples, 8)), rng.normal(size=(evaluation, 8))
    y = x @ weights + 0.1 * rng.normal(size=(samples, 1))
    y_val = rng.normal(size=(evaluation, 1))
    return _f32(x), _f32(y), _f32(x_val), _f32(y_val)


def _f32(values: npt.NDArray[np.float64]) -> Array:
    return values.astype(np.float32)
