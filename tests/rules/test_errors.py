from __future__ import annotations

import pickle

import pytest

from workers.rules.errors import RulesError, render_loc
from workers.rules.yaml_safe import YamlLimitError


@pytest.mark.parametrize(
    ("loc", "text"),
    [
        (("rules", 2, "when", "plateau", "plateau", "patience"), "rules[2].when.plateau.patience"),
        (("rules", 0, "do", 1, "resume", "resume", "after"), "rules[0].do[1].resume.after"),
        (("rules", 0, "do", 1, "notify"), "rules[0].do[1].notify"),
        # A metadata key that happens to repeat its parent is the user's, not a tag.
        (("rules", 0, "match", "metadata", "metadata"), "rules[0].match.metadata.metadata"),
        (("receivers", 1, "headers", "x", "[key]"), "receivers[1].headers.x (key)"),
        ((), "(document)"),
    ],
)
def test_pydantic_locations_read_as_the_user_wrote_them(
    loc: tuple[int | str, ...], text: str
) -> None:
    assert render_loc(loc) == text


def test_a_rules_error_carries_every_line() -> None:
    error = RulesError(["a: x", "b: y"])
    assert error.errors == ["a: x", "b: y"]
    assert str(error) == "a: x\nb: y"
    assert RulesError([]).errors == ["invalid rules file"]


@pytest.mark.parametrize("kind", [RulesError, YamlLimitError])
def test_a_rules_error_survives_pickling(kind: type[RulesError]) -> None:
    # The validate API's checks run in a worker process (service/cpu.py); errors come back so.
    error = pickle.loads(pickle.dumps(kind(["line 1, column 2: a", "rules[0].name: b"])))
    assert (type(error), error.errors) == (kind, ["line 1, column 2: a", "rules[0].name: b"])
