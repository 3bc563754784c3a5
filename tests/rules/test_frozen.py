"""FrozenState.replace: the same copy as pydantic's model_copy(update=...), cheaper."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from workers.rules.detectors.error_rate import ErrorRateState, StepRates
from workers.rules.detectors.plateau import PlateauState
from workers.rules.engine import RuleState
from workers.rules.frozen import FrozenState

CASES: list[tuple[FrozenState, dict[str, object]]] = [
    (PlateauState(best=0.5), {"wait": 3, "active": True, "ema": float("nan")}),
    (ErrorRateState(), {"window": [StepRates(step=1, rates={"g": 0.5})], "last_step": 1}),
    (RuleState(detector=PlateauState()), {"detector": PlateauState(wait=1), "armed": False}),
]


@pytest.mark.parametrize(("state", "changes"), CASES)
def test_replace_is_model_copy(state: FrozenState, changes: dict[str, object]) -> None:
    copied, expected = state.replace(**changes), state.model_copy(update=changes)
    assert copied.model_dump_json() == expected.model_dump_json()
    assert copied.model_fields_set == expected.model_fields_set
    assert type(copied) is type(state)
    assert copied is not state


def test_replace_leaves_the_original_and_keeps_it_frozen() -> None:
    state = PlateauState(best=0.5)
    copied = state.replace(wait=2)
    assert (state.wait, copied.wait, copied.best) == (0, 2, 0.5)
    with pytest.raises(ValidationError):
        copied.wait = 3  # type: ignore[misc]
