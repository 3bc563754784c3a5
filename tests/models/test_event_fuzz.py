"""Arbitrary and malformed upstream input: accepted, or refused with a clear error; no crash."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from service.models.event import NormalizedEvent
from service.models.metrics import flatten_metrics
from service.upstream.models import Job, JobEvent
from service.upstream.normalize import normalize
from service.upstream.pages import parse_event_page

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.sampled_from(["NaN", "inf", "-Infinity", "1e309", ""]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
KEYS = st.sampled_from(["id", "created_at", "level", "message", "type", "data", "object"])
EVENTISH = st.dictionaries(KEYS | st.text(max_size=8), JSON, max_size=8)
JOB = Job.model_validate({"id": "ftjob-f", "status": "running", "model": "o4-mini"})


@settings(max_examples=150, deadline=None)
@given(EVENTISH)
def test_any_event_object_normalizes_or_is_refused_clearly(raw: dict[str, Any]) -> None:
    try:
        event = JobEvent.model_validate(raw)
    except ValidationError as exc:
        assert exc.errors()  # a located, readable error
        return
    normalized = normalize(JOB, event)
    back = NormalizedEvent.model_validate_json(normalized.model_dump_json())
    assert back.event_id == event.id
    assert all(isinstance(v, float) for v in back.metrics.values())


@settings(max_examples=150, deadline=None)
@given(JSON)
def test_flattening_never_crashes_and_keeps_every_top_level_number(data: Any) -> None:
    flat = flatten_metrics(data if isinstance(data, dict) else None)
    assert all(isinstance(v, float) for v in flat.values())
    if isinstance(data, dict):
        numbers = {k for k, v in data.items() if isinstance(v, float)}
        assert numbers <= set(flat)


@settings(max_examples=100, deadline=None)
@given(st.lists(EVENTISH, max_size=6), st.booleans())
def test_a_page_keeps_every_good_event_and_rejects_the_rest(
    items: list[dict[str, Any]], has_more: bool
) -> None:
    payload = json.loads(json.dumps({"data": items, "has_more": has_more}, allow_nan=True))
    page = parse_event_page(payload)
    assert len(page.events) + len(page.rejected) == len(items)
    assert [pos for pos, _ in page.entries()] == list(range(len(items)))
    assert all(r.error for r in page.rejected)
