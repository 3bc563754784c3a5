"""YAML for the rules file: safe types only, duplicate keys refused, errors with line/column."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode

from workers.rules.errors import RulesError

# A rules file is a few KiB; a megabyte is a mistake (or an attack on the validate API).
MAX_TEXT = 1024 * 1024


# libyaml's parser when PyYAML was built with it: the pure-Python one took 3.7 s of event
# loop for 10 KB of nested brackets (issue 16, F1); libyaml refuses them in milliseconds
# (it bounds nesting itself). Constructors stay Python's, so the checks below apply.
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_Base):  # type: ignore[valid-type,misc]
    """SafeLoader that refuses a key written twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            # Merge keys (`<<: *base`) may legitimately be overridden; plain repeats not.
            if not isinstance(key_node, ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key = (key_node.tag, key_node.value)
            if key in seen:
                raise ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key_node.value!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def yaml_load(text: str) -> Any:
    """The document in `text`; RulesError naming line and column of a syntax error."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        raise RulesError([_marked(exc)]) from None
    except yaml.YAMLError as exc:
        raise RulesError([f"(document): invalid YAML: {exc}"]) from None
    except RecursionError:
        raise RulesError(["(document): nested too deeply"]) from None
    except (ValueError, TypeError, OverflowError) as exc:
        # PyYAML's constructors raise these for values such as the date 2024-13-45.
        raise RulesError([f"(document): invalid YAML value: {exc}"]) from None


def _marked(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    if mark is None:
        return f"(document): {problem}"
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
