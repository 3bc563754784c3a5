"""Rule states to and from their stored JSON, remembering the pairs seen lately.

Nearly every state a worker reads is one it wrote itself a moment ago (the next event
of the same job) or one no event changed: parsing that JSON again was the largest cost
of deciding an event. States are frozen, so handing out the same object is safe.
"""

from __future__ import annotations

from collections import OrderedDict

from pydantic import ValidationError

from workers.rules.engine import RuleState

# A few thousand jobs' states (five rules each, a few hundred bytes to a few KB apiece):
# every job of a busy batch stays known, memory stays in the tens of MB at most.
REMEMBERED = 16_384

_known: OrderedDict[str, RuleState] = OrderedDict()


def load_state(raw: str) -> RuleState | None:
    """The state stored as `raw`; None when it does not parse (an older version wrote it)."""
    state = _known.get(raw)
    if state is not None:
        _known.move_to_end(raw)
        return state
    try:
        state = RuleState.model_validate_json(raw)
    except ValidationError:
        return None
    _remember(raw, state)
    return state


def dump_state(state: RuleState) -> str:
    """The JSON to store for `state` (remembered, so reading it back costs nothing)."""
    raw = state.model_dump_json()
    _remember(raw, state)
    return raw


def _remember(raw: str, state: RuleState) -> None:
    _known[raw] = state
    _known.move_to_end(raw)
    if len(_known) > REMEMBERED:
        _known.popitem(last=False)
