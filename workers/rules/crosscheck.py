"""Checks across the rules file: unique names, notify targets that exist.

They run over the raw (parsed YAML) document, so `rules check` reports them together
with every schema error instead of only once the schema is clean.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Validation-context key: `parse_rules` runs these checks itself, over the raw input.
SKIP_CROSS_CHECK = "skip_cross_check"
# The built-in receiver: `{notify: log}` writes the firing to the service log and
# needs no declaration, so the defaults (which declare no receivers) can notify.
LOG_RECEIVER = "log"


def cross_check(raw: Mapping[str, Any]) -> list[str]:
    """Every cross-reference problem of a rules document, as `location: message` lines."""
    receivers = _names(raw.get("receivers"), "receivers")
    rules = _names(raw.get("rules"), "rules")
    errors = receivers.errors + rules.errors
    declared = [name for name, _ in receivers.seen] + [LOG_RECEIVER]
    rule_list = raw.get("rules")
    if isinstance(rule_list, list):
        for index, rule in enumerate(rule_list):
            errors += _notify_targets(rule, f"rules[{index}]", declared)
    return errors


class _Names:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []
        self.errors: list[str] = []


def _names(items: Any, section: str) -> _Names:
    """Names of a list of mappings, with an error for each repeated name."""
    out = _Names()
    if not isinstance(items, list):
        return out
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        name = item.get("name") if isinstance(item, Mapping) else None
        if not isinstance(name, str):
            continue
        if name in first:
            noun = section.rstrip("s")
            out.errors.append(
                f"{section}[{index}].name: duplicate {noun} name {name!r}"
                f" (first at {section}[{first[name]}])"
            )
        else:
            first[name] = index
            out.seen.append((name, index))
    return out


def _notify_targets(rule: Any, where: str, declared: list[str]) -> list[str]:
    actions = rule.get("do") if isinstance(rule, Mapping) else None
    if not isinstance(actions, list):
        return []
    errors = []
    for index, action in enumerate(actions):
        if not isinstance(action, Mapping) or len(action) != 1:
            continue
        target = action.get("notify")
        if isinstance(target, str) and target and target not in declared:
            errors.append(
                f"{where}.do[{index}].notify: unknown receiver {target!r}"
                f" (declared: {', '.join(declared)})"
            )
    return errors
