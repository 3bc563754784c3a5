from __future__ import annotations

import time

import pytest

from workers.rules.errors import RulesError
from workers.rules.yaml_safe import (
    LOADER,
    MAX_DEPTH,
    MAX_NODES,
    PureLoader,
    YamlLimitError,
    yaml_load,
)


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


# Both loaders: libyaml's (where PyYAML has it) and the pure-Python fallback.
LOADERS = pytest.mark.parametrize("loader", [LOADER, PureLoader], ids=["default", "python"])


def _flat(values: int) -> str:
    return "rules: [" + ", ".join(["1"] * values) + "]"


def _deep(levels: int) -> str:
    return "".join("  " * i + f"k{i}:\n" for i in range(levels)) + "  " * levels + "v\n"


@LOADERS
@pytest.mark.parametrize(
    ("text", "error"),
    [
        (_deep(40), f"line 32, column 63: nested more than {MAX_DEPTH} levels deep"),
        ("rules: " + "{a: " * 5000 + "}" * 5000, "line 1, column 128: nested more than 32"),
        ("rules: &r [*r]\n", "line 1, column 8: an alias refers to a node that contains it"),
        ("a: &r {b: *r}\n", "line 1, column 4: an alias refers to a node that contains it"),
        # References count although they add no node: libyaml composes them in C.
        ("a: &a [x]\nrules: [" + "*a, " * MAX_NODES + "]", "line 2, column "),
    ],
    ids=["depth", "flow-depth", "loop", "loop-in-mapping", "references"],
)
def test_limits_stop_loading_where_they_are_crossed(loader: type, text: str, error: str) -> None:
    with pytest.raises(YamlLimitError) as caught:
        yaml_load(text, loader)
    assert caught.value.errors[0].startswith(error), caught.value.errors


@LOADERS
def test_too_many_values_stop_loading_at_the_value_past_the_limit(loader: type) -> None:
    # The root mapping, its key and the list are 3 of the MAX_NODES.
    with pytest.raises(YamlLimitError) as caught:
        yaml_load(_flat(MAX_NODES - 2), loader)
    where, problem = caught.value.errors[0].split(": ")
    assert problem == f"more than {MAX_NODES} values"
    # libyaml's composer shows no position: the end of the value before is named instead.
    assert where in {f"line 1, column {3 * MAX_NODES - 2}", f"line 1, column {3 * MAX_NODES}"}


@LOADERS
def test_the_reviews_brackets_are_refused_at_once(loader: type) -> None:
    # 10 KB that took the pure-Python loader 3.7 s (quadratic in the scanner, issue 16 F1).
    started = time.perf_counter()
    with pytest.raises(YamlLimitError) as caught:
        yaml_load("rules: " + "[" * 5000 + "]" * 5000, loader)
    assert time.perf_counter() - started < 1.0
    assert caught.value.errors[0].startswith("line 1, column "), caught.value.errors


@LOADERS
def test_a_document_at_the_limits_loads(loader: type) -> None:
    assert len(yaml_load(_flat(MAX_NODES - 3), loader)["rules"]) == MAX_NODES - 3
    assert yaml_load(_deep(MAX_DEPTH - 1), loader)["k0"] is not None
