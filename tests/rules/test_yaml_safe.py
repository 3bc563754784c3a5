from __future__ import annotations

import pytest

from workers.rules.errors import RulesError
from workers.rules.yaml_safe import yaml_load


def test_safe_yaml_is_loaded() -> None:
    assert yaml_load("a: [1, 2.5, x, null, .nan]\n")["a"][:4] == [1, 2.5, "x", None]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("a: 1\nb: 2\na: 3\n", "line 3, column 1: found duplicate key 'a'"),
        ("a: {x: 1, x: 2}\n", "line 1, column 11: found duplicate key 'x'"),
        (
            "a: !!python/object:os.system {}\n",
            "line 1, column 4: could not determine a constructor",
        ),
        ("a: [1, 2\n", "line 2, column 1: did not find expected ',' or ']'"),
        # The review's 10 KB of brackets (3.7 s of event loop with the pure-Python parser):
        # libyaml bounds nesting while it parses and names where it stopped.
        ("rules: " + "[" * 5000 + "]" * 5000, "line 1, column 1007: exceeded maximum nesting"),
        ("a: 2024-02-30\n", "(document): invalid YAML value: day is out of range for month"),
    ],
)
def test_bad_yaml_names_line_and_column(text: str, error: str) -> None:
    with pytest.raises(RulesError) as caught:
        yaml_load(text)
    assert caught.value.errors[0].startswith(error), caught.value.errors


def test_merge_keys_are_not_duplicates() -> None:
    doc = yaml_load("base: &b {x: 1, y: 2}\nuse: {<<: *b, x: 3}\n")
    assert doc["use"] == {"x": 3, "y": 2}
