"""A detector kind, registered once: what the rules file, the engine and the backtest
need to know of a condition a rule's `when` may name (workers/rules/detectors/registry.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from service.models.event import EventFacts
from workers.rules.detectors.base import DetectorState, JobClock, Verdict

P = TypeVar("P")
S = TypeVar("S", bound=DetectorState)
# A key under `when` and a field name of its model: lowercase, no clash with pydantic's
# own attributes (which all start with `model_` or an underscore).
_NAME = re.compile(r"(?!model_)[a-z][a-z0-9_]{0,31}")


@dataclass(frozen=True)
class DetectorKind(Generic[P, S]):
    """One condition kind: `when: {<name>: <params>}` in a rules file."""

    name: str  # the key under `when`, e.g. plateau
    # The type of the value under the key: a pydantic model (Plateau), or an annotated
    # type such as Statuses; `type[P]` cannot express the latter.
    params: object
    state: type[S]  # the detector's memory per (rule, job); starts as `state()`
    step: Callable[[P, S, EventFacts], tuple[S, Verdict | None]]  # one event of the job
    # A timer-driven kind: fed the job's snapshot periodically (the ticker) as well.
    tick: Callable[[P, S, JobClock], tuple[S, Verdict | None]] | None = None
    # The moments after a job's event at `last` when `tick` could decide anew; the
    # backtest ticks there (recorded events are all it has of time).
    wakes: Callable[[P, float], Sequence[float]] | None = None

    def initial(self) -> S:
        return self.state()

    def on_event(
        self, params: P, state: DetectorState, event: EventFacts
    ) -> tuple[DetectorState, Verdict | None]:
        """`step`, for a state of this kind (another kind's state is left alone)."""
        if not isinstance(state, self.state):
            return state, None
        return self.step(params, state, event)

    def on_tick(
        self, params: P, state: DetectorState, clock: JobClock
    ) -> tuple[DetectorState, Verdict | None]:
        """`tick`, for a timer-driven kind and a state of this kind; else nothing."""
        if self.tick is None or not isinstance(state, self.state):
            return state, None
        return self.tick(params, state, clock)


class RegistryError(Exception):
    """A detector kind that cannot be registered (bad or taken name, or too late)."""


class Registry:
    """The detector kinds by name, in registration order (the order messages list them)."""

    def __init__(self, kinds: Iterable[DetectorKind[Any, Any]] = ()) -> None:
        self._kinds: dict[str, DetectorKind[Any, Any]] = {}
        self._frozen_by: str | None = None
        for kind in kinds:
            self.register(kind)

    def register(self, kind: DetectorKind[P, S]) -> DetectorKind[P, S]:
        """Add `kind`; RegistryError once the rules file's models were built from it."""
        if self._frozen_by is not None:
            raise RegistryError(
                f"detector kind {kind.name!r} registered after {self._frozen_by} built the"
                " rules file's models from the registry: register it before that import"
            )
        if not _NAME.fullmatch(kind.name):
            raise RegistryError(f"detector kind name {kind.name!r}: must match {_NAME.pattern}")
        if kind.name in self._kinds:
            raise RegistryError(f"detector kind {kind.name!r} is registered already")
        _check_state(kind)
        self._kinds[kind.name] = kind
        return kind

    def freeze(self, by: str) -> tuple[DetectorKind[Any, Any], ...]:
        """Every kind, for building models once; later registrations are refused."""
        self._frozen_by = self._frozen_by or by
        return tuple(self._kinds.values())

    def names(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def __getitem__(self, name: str) -> DetectorKind[Any, Any]:
        return self._kinds[name]

    def __contains__(self, name: object) -> bool:
        return name in self._kinds


def _check_state(kind: DetectorKind[Any, Any]) -> None:
    field = kind.state.model_fields.get("kind")
    if field is None or field.default != kind.name:
        raise RegistryError(
            f"detector kind {kind.name!r}: its state {kind.state.__name__} must declare"
            f' kind: Literal["{kind.name}"] = "{kind.name}" (it names the kind in stored JSON)'
        )
