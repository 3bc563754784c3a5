"""A small curve language for scripted metrics: one value per training step.

`{kind, start, end, ...}` with progress `p = step / total_steps`:
- `constant`: `start` on every step (a bare number in a scenario means this).
- `linear`: from `start` to `end` at the last step.
- `exp`: from `start` towards `end`, `1 - exp(-rate * p)` of the way (rate 5: ~99%).
- `plateau`: linear from `start` to `end` at step `plateau_at`, then flat at `end`.
- `diverge`: like `exp` until step `diverge_at`, then multiplied by `growth` each step.
Then, for every kind: gaussian `noise` (standard deviation, deterministic from `seed`
and the step), clamping to `min`/`max`, and NaN from step `nan_at` on.
"""

from __future__ import annotations

import hashlib
import math
import struct
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CurveKind = Literal["constant", "linear", "exp", "plateau", "diverge"]

# exp() overflows a float above ~709; anything past this is "infinitely diverged" anyway.
_MAX_EXPONENT = 700.0


class Curve(BaseModel):
    """One metric's value per step; see the module docstring for the kinds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: CurveKind = "linear"
    start: float = 0.0
    end: float = 0.0
    rate: float = Field(default=5.0, gt=0)
    plateau_at: int | None = Field(default=None, ge=1)
    diverge_at: int | None = Field(default=None, ge=0)
    growth: float = Field(default=1.5, gt=0)
    nan_at: int | None = Field(default=None, ge=1)
    noise: float = Field(default=0.0, ge=0)
    seed: int = 0
    min: float | None = None
    max: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _number_is_constant(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"kind": "constant", "start": float(value)}
        return value

    @model_validator(mode="after")
    def _bounds_ordered(self) -> Curve:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must be <= max")
        return self

    def value(self, step: int, total_steps: int) -> float:
        """The curve's value at `step` (1-based) of a run of `total_steps` steps."""
        if self.nan_at is not None and step >= self.nan_at:
            return math.nan
        raw = self._shape(step, max(total_steps, 1))
        if self.noise:
            raw += self.noise * _gauss(self.seed, step)
        if self.min is not None:
            raw = max(raw, self.min)
        if self.max is not None:
            raw = min(raw, self.max)
        return round(raw, 6)

    def _shape(self, step: int, total: int) -> float:
        if self.kind == "constant":
            return self.start
        if self.kind == "linear":
            return self.start + (self.end - self.start) * step / total
        if self.kind == "plateau":
            at = self.plateau_at if self.plateau_at is not None else max(total // 2, 1)
            return self.start + (self.end - self.start) * min(step / at, 1.0)
        if self.kind == "diverge":
            at = self.diverge_at if self.diverge_at is not None else total // 2
            if step <= at:
                return self._exp(step, total)
            exponent = (step - at) * math.log(self.growth)
            return self._exp(at, total) * math.exp(min(exponent, _MAX_EXPONENT))
        return self._exp(step, total)

    def _exp(self, step: int, total: int) -> float:
        return self.end + (self.start - self.end) * math.exp(-self.rate * step / total)


def _gauss(seed: int, step: int) -> float:
    """A standard normal draw that is a pure function of (seed, step) (Box-Muller)."""
    digest = hashlib.blake2b(f"{seed}:{step}".encode(), digest_size=16).digest()
    first, second = struct.unpack("<QQ", digest)
    uniform = (first + 1) / 2.0**64  # in (0, 1]: log() never sees 0
    return math.sqrt(-2.0 * math.log(uniform)) * math.cos(2.0 * math.pi * second / 2.0**64)
