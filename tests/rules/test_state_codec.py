"""Rule states to and from stored JSON, with the memo of recent pairs (pure)."""

from __future__ import annotations

import json
import math

from workers.rules import state_codec
from workers.rules.detectors.threshold import ThresholdState
from workers.rules.engine import RuleState
from workers.rules.state_codec import dump_state, load_state


def test_a_state_reads_back_as_it_was_written() -> None:
    state = RuleState(detector=ThresholdState(active=True), episode=3, cooldown_until=math.inf)
    raw = dump_state(state)
    assert load_state(raw) == state
    spaced = json.dumps(json.loads(raw), indent=2)  # the same state, never seen as text
    assert load_state(spaced) == state


def test_a_state_written_by_another_version_reads_as_none() -> None:
    assert load_state('{"detector": {"kind": "gone"}}') is None
    assert load_state("not json") is None


def test_the_memo_stays_bounded() -> None:
    for episode in range(state_codec.REMEMBERED + 10):
        dump_state(RuleState(detector=ThresholdState(), episode=episode + 1))
    assert len(state_codec._known) == state_codec.REMEMBERED
