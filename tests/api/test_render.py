"""Responses are strict JSON: non-finite numbers become their names."""

from __future__ import annotations

import json

from service.api.render import dumps, finite_json
from service.models.job import JobSnapshot


def test_non_finite_numbers_are_named() -> None:
    value = {"a": [1.0, float("nan"), {"b": float("-inf")}], "c": float("inf"), "d": "x"}
    assert finite_json(value) == {"a": [1.0, "NaN", {"b": "-Infinity"}], "c": "Infinity", "d": "x"}
    assert finite_json(float("nan")) == "NaN"


def test_models_render_as_strict_json() -> None:
    snapshot = JobSnapshot(job_id="j", metrics={"loss": float("nan"), "acc": 0.5})
    text = dumps(snapshot)
    assert "NaN" not in text.replace('"NaN"', "")  # never a bare NaN constant
    assert json.loads(text)["metrics"] == {"loss": "NaN", "acc": 0.5}
