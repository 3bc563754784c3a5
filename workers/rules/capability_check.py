"""Which providers can carry out each action of a rule (SPEC §4), before anything runs.

A rule's `match.provider` globs select among the configured providers and the built-in
`ingest`. An action none of the selected providers can do is an error (`rules check`
exits 1, `POST /v1/rules/validate` says invalid); one only some can do is a warning. On
a job whose provider cannot, the executor records `unsupported` and notifies
`ftwatch.action.failed`, never retried.

`ftwatch run` logs both at start but still starts: such a rule is a mistake whose every
consequence is recorded and notified, and refusing the whole file would stop the
watching of every other job over it (an upgrade that learns a new lack, say).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.models.ident import INGEST_PROVIDER
from service.providers.base import ACTIONS, Action
from service.providers.capabilities import lacking, notes
from workers.rules.config import Rule, RulesFile


@dataclass(frozen=True)
class Carriers:
    """Who can carry out one action of one rule (item `index` of its `do`)."""

    action: Action
    index: int
    can: tuple[str, ...]  # provider names
    notes: Mapping[str, str]  # provider → caveat of an action it does carry out
    cannot: Mapping[str, str]  # provider → why not


def _providers(rules: RulesFile) -> dict[str, Mapping[Action, str]]:
    """Every provider a rule may select, with what it lacks."""
    found: dict[str, Mapping[Action, str]] = {s.name: lacking(s) for s in rules.providers}
    found[INGEST_PROVIDER] = {}
    return found


def carriers(rules: RulesFile, rule: Rule) -> list[Carriers]:
    """For each pause, resume or cancel of `rule`: the providers it matches that can."""
    selected = {
        name: lacks
        for name, lacks in _providers(rules).items()
        if rule.match is None or rule.match.selects(name)
    }
    out = []
    for index, item in enumerate(rule.do):
        action = next((a for a in ACTIONS if a == item.kind), None)
        if action is None:
            continue  # notify: every receiver works with every provider
        out.append(
            Carriers(
                action=action,
                index=index,
                can=tuple(n for n, lacks in selected.items() if action not in lacks),
                notes={n: notes(n)[action] for n in selected if action in notes(n)},
                cannot={n: lacks[action] for n, lacks in selected.items() if action in lacks},
            )
        )
    return out


def _why_not(cannot: Mapping[str, str]) -> str:
    return ", ".join(f"{name} cannot ({why})" for name, why in cannot.items())


def capability_errors(rules: RulesFile) -> list[str]:
    """An action of a rule that no provider it matches can carry out."""
    return [
        f"rules[{i}].do[{c.index}]: rule {rule.name!r} asks to {c.action}, which no provider"
        f" it matches can: {_why_not(c.cannot)}"
        for i, rule in enumerate(rules.rules)
        for c in carriers(rules, rule)
        if c.cannot and not c.can
    ]


def capability_warnings(rules: RulesFile) -> list[str]:
    """An action of a rule that only some of the providers it matches can carry out."""
    return [
        f"rules[{i}].do[{c.index}]: rule {rule.name!r} asks to {c.action}:"
        f" {_why_not(c.cannot)}, so its jobs there record it as unsupported;"
        f" {', '.join(c.can)} can"
        for i, rule in enumerate(rules.rules)
        for c in carriers(rules, rule)
        if c.cannot and c.can
    ]
