"""The models built from the detector registry: a rule's `when` and its stored state.

Both are pydantic discriminated unions over every registered kind, built ONCE, here, at
import. Why once: pydantic compiles a model's validator when the class is created, so
`Rule`, `RulesFile` and `RuleState` hold the unions they were created with; a kind added
later would be refused by them (or, rebuilt in place, change what a parsed file means
under a running service). So the registry is frozen here, and a kind registered after
this import is a RegistryError saying so. Why `if TYPE_CHECKING`: mypy cannot see a union
assembled at runtime; it checks against the bases, which every member extends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import BaseModel, Discriminator, Field, Tag, create_model

from workers.rules.detectors.base import DetectorState
from workers.rules.detectors.registry import DETECTORS, DetectorKind
from workers.rules.when import WhenBase

__all__ = ["KINDS", "AnyDetectorState", "When", "when_model"]

KINDS = DETECTORS.freeze(__name__)
NAMES = frozenset(kind.name for kind in KINDS)


def _when_model(kind: DetectorKind[Any, Any]) -> type[WhenBase]:
    """`{<name>: <params>}` as a model: e.g. PlateauWhen with one field `plateau`."""
    title = "".join(part.title() for part in kind.name.split("_")) + "When"
    fields: dict[str, Any] = {kind.name: (kind.params, ...)}
    model = create_model(title, __base__=WhenBase, __module__=__name__, **fields)
    model.kind = kind.name
    return model


_MODELS = {kind.name: _when_model(kind) for kind in KINDS}


def when_model(name: str) -> type[WhenBase]:
    """The `when` model of the registered kind `name`."""
    return _MODELS[name]


def _when_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return getattr(value, "kind", None)
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key if key in NAMES else None
    return None


if TYPE_CHECKING:
    When = WhenBase
    AnyDetectorState = DetectorState
else:
    # Union[...] over a tuple: the `X | Y` spelling cannot take a computed list.
    When = Annotated[
        Union[tuple(Annotated[m, Tag(name)] for name, m in _MODELS.items())],  # noqa: UP007
        Discriminator(
            _when_tag,
            custom_error_type="when_kind",
            custom_error_message=f"must be one of {', '.join(_MODELS)}",
        ),
    ]
    AnyDetectorState = Annotated[
        Union[tuple(kind.state for kind in KINDS)],  # noqa: UP007
        Field(discriminator="kind"),
    ]
