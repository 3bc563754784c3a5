"""The detector registry and every place built from it agree: a kind registered once is
usable in a rules file, the engine, the stored state and the backtest with no other edit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workers.rules.conditions import KINDS, when_model
from workers.rules.detectors.base import DetectorState
from workers.rules.detectors.kind import DetectorKind, Registry
from workers.rules.detectors.registry import DETECTORS, RegistryError, register
from workers.rules.detectors.stalled import StalledState
from workers.rules.detectors.stalled import step as stalled_step
from workers.rules.engine import RuleState
from workers.rules.errors import RulesError
from workers.rules.loading import parse_rules_text
from workers.rules.when import Stalled

ROOT = Path(__file__).resolve().parents[2]
BUILT_IN = ("plateau", "error_rate", "threshold", "stalled", "status")


def test_a_kind_registered_in_a_test_works_in_rules_engine_and_backtest() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tests.rules.fake_kind"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["kinds"] == [*BUILT_IN, "countdown"]
    assert out["kind"] == "countdown"
    assert (out["first"], out["second"]) == (False, "2 events")  # the engine's dispatch
    assert (out["stored"], out["stored_kind"]) == (True, "CountdownState")  # the state union
    assert out["ticked"] == "quiet for 601 s"  # the ticker's path
    assert out["backtest"] == [  # a step firing, and a tick at the kind's wake time
        ["counted", "countdown", 10.0, "2 events"],
        ["quiet", "countdown", 610.0, "quiet for 600 s"],
    ]
    assert out["bad"] == ["rules[0].when.countdown.events: must be >= 1"]
    assert "rules[0].when.countdown.evnts: unknown field (did you mean 'events'?)" in out["typo"]
    assert out["unknown"] == [
        "rules[0].when: unknown condition 'nope' (expected plateau, error_rate, threshold,"
        " stalled, status, countdown)"
    ]
    assert "registered after workers.rules.conditions built" in out["late"]


def test_the_unions_and_messages_are_the_registered_kinds() -> None:
    assert DETECTORS.names() == BUILT_IN == tuple(k.name for k in KINDS)
    for kind in KINDS:
        assert when_model(kind.name).kind == kind.name
        stored = RuleState(detector=kind.initial()).model_dump_json()
        assert type(RuleState.model_validate_json(stored).detector) is kind.state
    with pytest.raises(RulesError) as caught:
        parse_rules_text("rules: [{name: r, when: {nope: 1}, do: [{notify: log}]}]")
    assert caught.value.errors == [
        f"rules[0].when: unknown condition 'nope' (expected {', '.join(BUILT_IN)})"
    ]


def test_the_registry_refuses_what_it_cannot_build_from() -> None:
    stalled = DETECTORS["stalled"]
    with pytest.raises(RegistryError, match=r"registered after workers\.rules\.conditions"):
        register(stalled)  # the unions are built: too late for any kind
    fresh = Registry([stalled])
    with pytest.raises(RegistryError, match="'stalled' is registered already"):
        fresh.register(stalled)
    with pytest.raises(RegistryError, match="must match"):
        fresh.register(DetectorKind("model_x", Stalled, StalledState, stalled_step))

    class Unnamed(DetectorState):
        pass

    def step(params: Stalled, state: Unnamed, event: object) -> tuple[Unnamed, None]:
        return state, None

    with pytest.raises(RegistryError, match='must declare kind: Literal\\["other"\\]'):
        fresh.register(DetectorKind("other", Stalled, Unnamed, step))
