"""A detector kind defined and registered here alone, then used through the public entry
points: a rules file, the engine (events and ticks), the stored state, the backtest.

Run as `python -m tests.rules.fake_kind` (tests/rules/test_registry.py does): the rules
file's models are built once, when workers.rules.config is first imported, so the kind
must be registered before that, in a process of its own. Prints one JSON object.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field

from service.models.event import EventFacts, NormalizedEvent
from service.models.job import JobSnapshot
from workers.rules.detectors.base import DetectorState, JobClock, Verdict
from workers.rules.detectors.registry import DETECTORS, DetectorKind, RegistryError, register
from workers.rules.when import StrictModel

T0 = 1_700_000_000


class Countdown(StrictModel):
    """Fires on the `events`-th event of a job, or `quiet` seconds after its last one."""

    events: int = Field(ge=1)
    quiet: float = Field(default=3600.0, gt=0)


class CountdownState(DetectorState):
    kind: Literal["countdown"] = "countdown"
    seen: int = 0


def step(
    params: Countdown, state: CountdownState, event: EventFacts
) -> tuple[CountdownState, Verdict | None]:
    seen = state.seen + 1
    new = state.replace(seen=seen, active=seen >= params.events)
    verdict = Verdict(reason=f"{seen} events", step=event.step) if new.active else None
    return new, verdict


def tick(
    params: Countdown, state: CountdownState, clock: JobClock
) -> tuple[CountdownState, Verdict | None]:
    last = clock.last_event_at
    if last is None or clock.now - last < params.quiet:
        return state, None
    return state.replace(active=True), Verdict(reason=f"quiet for {clock.now - last:g} s")


def wakes(params: Countdown, last: float) -> tuple[float]:
    return (last + params.quiet,)


COUNTDOWN = DetectorKind(
    name="countdown", params=Countdown, state=CountdownState, step=step, tick=tick, wakes=wakes
)


def _event(n: int, at: int) -> NormalizedEvent:
    return NormalizedEvent(
        job_id="ftjob-fake", event_id=f"ev-{n}", created_at=at, type="metrics", metrics={}
    )


def _errors(text: str) -> list[str]:
    from workers.rules.errors import RulesError  # noqa: PLC0415 (after registering)
    from workers.rules.loading import parse_rules_text  # noqa: PLC0415

    try:
        parse_rules_text(text)
    except RulesError as exc:
        return exc.errors
    return []


def _rule_text(when: str) -> str:
    return f"rules: [{{name: r, when: {when}, do: [{{notify: log}}]}}]\n"


def main() -> dict[str, Any]:
    register(COUNTDOWN)
    # Imported only now: importing them builds the rules file's models from the registry.
    from workers.rules.backtest import backtest  # noqa: PLC0415
    from workers.rules.engine import evaluate  # noqa: PLC0415
    from workers.rules.engine import tick as engine_tick  # noqa: PLC0415
    from workers.rules.loading import parse_rules_text  # noqa: PLC0415
    from workers.rules.state_codec import dump_state, load_state  # noqa: PLC0415

    rules = parse_rules_text(_rule_text("{countdown: {events: 2, quiet: 600}}"))
    rule = rules.rules[0]
    state, first = evaluate(rule, None, _event(1, T0), T0)
    state, second = evaluate(rule, state, _event(2, T0 + 10), T0 + 10)
    snapshot = JobSnapshot(job_id="ftjob-fake", status="running", last_event_at=T0)
    _, ticked = engine_tick(rule, None, snapshot, T0 + 601.0)
    two = parse_rules_text(
        "rules:\n"
        "  - {name: counted, when: {countdown: {events: 2, quiet: 600}}, do: [{notify: log}]}\n"
        "  - {name: quiet, when: {countdown: {events: 99, quiet: 600}}, do: [{notify: log}]}\n"
    )
    recorded = [_event(1, T0), _event(2, T0 + 10), _event(3, T0 + 1000)]
    rows = backtest(two, recorded)
    try:
        register(COUNTDOWN.__class__(**{**COUNTDOWN.__dict__, "name": "late"}))
        late = ""
    except RegistryError as exc:
        late = str(exc)
    return {
        "kinds": list(DETECTORS.names()),
        "kind": rule.kind,
        "first": first is not None,
        "second": second.reason if second else None,
        "stored": load_state(dump_state(state)) == state,
        "stored_kind": type(state.detector).__name__,
        "ticked": ticked.reason if ticked else None,
        "backtest": [(row.rule, row.kind, row.at - T0, row.reason) for row in rows],
        "bad": _errors(_rule_text("{countdown: {events: 0}}")),
        "typo": _errors(_rule_text("{countdown: {evnts: 2}}")),
        "unknown": _errors(_rule_text("{nope: {}}")),
        "late": late,
    }


if __name__ == "__main__":
    print(json.dumps(main()))
