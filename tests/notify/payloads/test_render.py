"""render(): every format renders the same firing; arbitrary text and NaN never break it."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.models.firing import ActionResult, Firing, JobFacts
from tests.notify.samples import (
    CHECKPOINT,
    FIRED_AT,
    REASON,
    ROUTING_KEY,
    plateau_firing,
    render_json,
    strict_loads,
)
from workers.notify.payloads import FORMATS, render
from workers.notify.signing import sign

GOLDEN = Path(__file__).parent.parent / "golden"
# Set to rewrite the golden files after an intended change of a format; review the diff.
UPDATE = os.environ.get("FTWATCH_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("format", FORMATS)
def test_matches_golden_shape(format: str) -> None:
    body = render_json(format)
    path = GOLDEN / f"{format}.json"
    if UPDATE:
        path.write_text(json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    assert body == json.loads(path.read_text())


@pytest.mark.parametrize("format", FORMATS)
def test_every_format_names_the_same_facts(format: str) -> None:
    text = json.dumps(render_json(format), ensure_ascii=False)
    facts = ["ftjob-abc123", "o4-mini-2025-04-16", "reinforcement", "40", "reward-plateau"]
    facts += [REASON, "0.612", "0.615", CHECKPOINT, "pause ok", "notify ops queued"]
    for fact in facts:
        assert fact in text, fact


def test_formats_are_the_four_receiver_formats() -> None:
    assert set(FORMATS) == {"standard", "slack", "alertmanager", "pagerduty"}


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown receiver format 'teams'"):
        render("teams", plateau_firing(), now=FIRED_AT)


def test_non_finite_values_render_as_strings() -> None:
    firing = plateau_firing(
        values={"train_loss": math.nan, "up": math.inf, "down": -math.inf}, best=math.nan
    )
    data = render_json("standard", firing)["data"]
    assert data["values"] == {"train_loss": "NaN", "up": "Infinity", "down": "-Infinity"}
    assert data["best"]["value"] == "NaN"
    assert "train_loss=NaN" in render_json("alertmanager", firing)[0]["annotations"]["description"]


def test_a_lone_surrogate_in_metadata_still_renders() -> None:
    firing = plateau_firing(job=JobFacts(id="ftjob-\ud800", metadata={"k\udfff": "v\ud800"}))
    for format in FORMATS:
        strict_loads(render(format, firing, now=FIRED_AT, routing_key=ROUTING_KEY).body)


_text = st.text(max_size=60)
_number = st.floats(allow_nan=True, allow_infinity=True)


@st.composite
def firings(draw: st.DrawFn) -> Firing:
    """Firings with arbitrary user text and arbitrary (also non-finite) numbers."""
    job = JobFacts(
        id=draw(_text),
        model=draw(st.none() | _text),
        method=draw(st.none() | _text),
        metadata=draw(st.dictionaries(_text, _text, max_size=5)),
        status=draw(st.none() | _text),
        step=draw(st.none() | st.integers(min_value=-(2**63), max_value=2**63)),
    )
    actions = draw(
        st.lists(
            st.builds(
                ActionResult,
                action=_text,
                outcome=st.sampled_from(["ok", "already", "failed", "queued", "dry_run"]),
                detail=_text,
                at=st.none() | _number,
            ),
            max_size=3,
        )
    )
    return Firing(
        firing_id=draw(_text),
        type=draw(st.sampled_from(["ftwatch.rule.fired", "ftwatch.job.finished"])),
        rule=draw(_text),
        kind=draw(st.sampled_from(["plateau", "threshold", "status", "stalled"])),
        job=job,
        reason=draw(st.text(max_size=400)),
        values=draw(st.dictionaries(_text, _number, max_size=5)),
        best=draw(st.none() | _number),
        best_step=draw(st.none() | st.integers()),
        checkpoint=draw(st.none() | _text),
        actions=actions,
        dry_run=draw(st.booleans()),
        event_created_at=draw(st.none() | st.integers()),
        fired_at=draw(_number),
        resolved=draw(st.booleans()),
    )


@settings(max_examples=150, deadline=None)
@given(firing=firings(), external_url=st.none() | _text)
def test_rendering_never_crashes_and_is_always_valid_json(
    firing: Firing, external_url: str | None
) -> None:
    for format in FORMATS:
        rendered = render(
            format, firing, now=FIRED_AT, external_url=external_url, routing_key=ROUTING_KEY
        )
        body = strict_loads(rendered.body)
        assert isinstance(body, list if format == "alertmanager" else dict)
        assert sign("whsec_dGVzdA==", "msg_1", 1, rendered.body)["webhook-signature"]
