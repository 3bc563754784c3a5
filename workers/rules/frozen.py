"""The base of rule states: frozen pydantic models with a cheap changed copy.

A state changes on nearly every metrics event, and `model_copy(update=...)` spent more
time in its generic copying (private attributes, extras, a deep-copy option) than the
detector spent deciding. States have neither private attributes nor extras, so a copy
is the field dict with the changes, set the way `model_construct` sets it.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict

_set = object.__setattr__  # frozen models refuse plain assignment


class FrozenState(BaseModel):
    """A frozen model whose values travel as JSON (NaN and infinities as constants)."""

    model_config = ConfigDict(ser_json_inf_nan="constants", extra="forbid", frozen=True)

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes`, unvalidated like `model_copy(update=changes)`."""
        if self.__pydantic_private__ is not None or self.__pydantic_extra__:
            return self.model_copy(update=changes)  # never for states; kept correct anyway
        copied = self.__class__.__new__(self.__class__)
        _set(copied, "__dict__", {**self.__dict__, **changes})
        _set(copied, "__pydantic_fields_set__", self.__pydantic_fields_set__ | changes.keys())
        _set(copied, "__pydantic_extra__", None)
        _set(copied, "__pydantic_private__", None)
        return copied
