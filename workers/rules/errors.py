"""RulesError and the rendering of pydantic errors as `rules[2].when.plateau.patience: …` lines."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from service.providers.config import KINDS as PROVIDER_KINDS
from workers.rules.detectors.registry import DETECTORS

ACTION_KINDS = ("pause", "resume", "cancel", "notify")


class RulesError(Exception):
    """A rules file that cannot be used; `errors` holds every problem, one line each."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors) or ["invalid rules file"]
        super().__init__("\n".join(self.errors))

    def __reduce__(self) -> tuple[type[RulesError], tuple[list[str]]]:
        # Raised in a worker process (service/cpu.py), it must arrive whole: the default
        # pickling would rebuild it from the joined message, one error per character.
        return (type(self), (self.errors,))


def render_loc(loc: Sequence[int | str]) -> str:
    """pydantic's `('rules', 2, 'when', 'plateau', 'plateau', 'patience')` as the user
    wrote it: `rules[2].when.plateau.patience`."""
    out = ""
    previous: list[int | str] = []
    for part in loc:
        if _is_tag_repeat(previous, part):
            continue
        previous.append(part)
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (key)"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def _is_tag_repeat(previous: Sequence[int | str], part: int | str) -> bool:
    # A discriminated union's tag repeats the key the user wrote under `when` and in
    # `do` items (`when.plateau.plateau.patience` in pydantic's loc): drop the repeat.
    # A provider's `kind` is a tag the user wrote as a value: drop it too.
    if len(previous) >= 2 and previous[-2] == "providers" and isinstance(previous[-1], int):
        return isinstance(part, str) and part in PROVIDER_KINDS
    if not previous or previous[-1] != part or not isinstance(part, str):
        return False
    parent = previous[-2] if len(previous) >= 2 else None
    grandparent = previous[-3] if len(previous) >= 3 else None
    return parent == "when" or (isinstance(parent, int) and grandparent == "do")


def render_validation_error(error: ValidationError, known_fields: Iterable[str] = ()) -> list[str]:
    """Every error of `error` as one `location: message` line."""
    fields = sorted(set(known_fields))
    return [f"{render_loc(e['loc'])}: {_message(e, fields)}" for e in error.errors()]


def _message(error: ErrorDetails, fields: Sequence[str]) -> str:
    kind = error["type"]
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind in _BOUNDS:
        op, key = _BOUNDS[kind]
        return f"must be {op} {ctx.get(key)}"
    special = {
        "extra_forbidden": lambda: _unknown_field(error["loc"], fields),
        "when_kind": lambda: _kind_message(error.get("input"), DETECTORS.names(), "condition"),
        "action_kind": lambda: _action_message(error.get("input")),
        "literal_error": lambda: f"must be {ctx.get('expected')}",
        "too_short": lambda: _too_short(kind, ctx),
        "string_too_short": lambda: _too_short(kind, ctx),
        "value_error": lambda: str(ctx.get("error", error["msg"])),
    }
    render = special.get(kind)
    return render() if render else error["msg"]


_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}
_SIMPLE = {
    "missing": "required",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string (quote it)",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "list_type": "must be a list",
    "recursion_loop": "must not refer to itself",
}


def _too_short(kind: str, ctx: Mapping[str, Any]) -> str:
    minimum = ctx.get("min_length", 1)
    if minimum == 1:
        return "must not be empty"
    noun = "characters" if kind == "string_too_short" else "items"
    return f"must have at least {minimum} {noun}"


def _unknown_field(loc: Sequence[int | str], fields: Sequence[str]) -> str:
    name = str(loc[-1]) if loc else ""
    close = difflib.get_close_matches(name, fields, n=1, cutoff=0.75)
    return f"unknown field (did you mean {close[0]!r}?)" if close else "unknown field"


def _kind_message(value: Any, kinds: Sequence[str], noun: str) -> str:
    expected = ", ".join(kinds)
    if not isinstance(value, Mapping) or not value:
        return f"must be a mapping with one key: {expected}"
    if len(value) > 1:
        keys = ", ".join(sorted(str(k) for k in value))
        return f"must have exactly one key ({expected}), got {keys}"
    key = str(next(iter(value)))
    return f"unknown {noun} {key!r} (expected {expected})"


def _action_message(value: Any) -> str:
    if isinstance(value, str):
        return f"unknown action {value!r} (expected pause, resume, cancel or notify)"
    return _kind_message(value, ACTION_KINDS, "action")
