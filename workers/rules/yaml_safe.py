"""YAML for the rules file: safe types only, duplicate keys refused, errors with line/column.

Size limits are enforced while the document is composed, before anything is built from
it: a hostile text stops costing work where it crosses a limit (issue 16, F1).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.error import Mark
from yaml.nodes import CollectionNode, MappingNode, Node, ScalarNode
from yaml.resolver import Resolver

from workers.rules.errors import RulesError

# A rules file is a few KiB; a megabyte is a mistake (or an attack on the validate API).
MAX_TEXT = 1024 * 1024
# Values (keys included) once aliases are expanded: a rule is 10 to 40, so this is room
# for ~1,000 rules, and it bounds the work of everything after the parse ("billion laughs").
MAX_NODES = 40_000
# Far deeper than any rules file (which nests 6 levels).
MAX_DEPTH = 32
TOO_MANY = f"more than {MAX_NODES} values"
TOO_MANY_EXPANDED = f"{TOO_MANY} once aliases are expanded"
TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"


class YamlLimitError(RulesError):
    """The document crossed a size or depth limit; loading stopped there."""


class _LimitError(ComposerError):
    """Raised from inside composition (libyaml's or Python's), then turned into YamlLimitError."""


class _Limits(SafeConstructor, Resolver):
    """Loader methods: repeated keys refused, loading stopped at MAX_NODES or MAX_DEPTH.

    Both composers (libyaml's and Python's) call descend_resolver/ascend_resolver around
    every node but aliases: the counting hooks in there, so it runs while composing.
    """

    # Per loader, and a loader reads one document.
    _nodes = 0
    _depth = 0
    _references = 0

    def descend_resolver(self, current_node: Node | None, current_index: Any) -> None:
        self._nodes += 1
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _refused(TOO_DEEP, _last_mark(current_node, current_index))
        if self._nodes > MAX_NODES:
            raise _refused(TOO_MANY, _last_mark(current_node, current_index))
        super().descend_resolver(current_node, current_index)

    def ascend_resolver(self) -> None:
        self._depth -= 1
        super().ascend_resolver()

    def construct_document(self, node: Node) -> Any:
        # Aliases add no nodes to compose but multiply what is built and validated.
        check_expansion(node)
        return super().construct_document(node)

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


class PureLoader(_Limits, yaml.SafeLoader):
    """The pure-Python loader, for a PyYAML built without libyaml (and for the tests)."""

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        # Python's scanner runs ahead of the composer over `[[[[…`, rechecking each level
        # as a possible simple key per token (quadratic: the review's 3.7 s); stop it here.
        # libyaml's scanner stops at 1,000 levels by itself and never calls this.
        if self.flow_level >= MAX_DEPTH:
            raise _refused(TOO_DEEP, self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        # Aliases too (descend_resolver sees only new nodes): Python's composer takes
        # ~30 µs per alias, libyaml's a fraction of a microsecond.
        self._references += 1
        if self._references > MAX_NODES:
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise _refused(TOO_MANY, event.start_mark)
        return super().compose_node(parent, index)


LOADER: type[Any] = PureLoader
if yaml.__with_libyaml__:

    class _CLoader(_Limits, yaml.CSafeLoader):
        """libyaml's parser and composer (the review's 3.7 s of Python parsing: 2 ms)."""

    LOADER = _CLoader


def _refused(problem: str, mark: Mark | None) -> _LimitError:
    return _LimitError(None, None, problem, mark)


def _last_mark(parent: Node | None, index: Any) -> Mark | None:
    """Where the node about to be composed is, near enough: libyaml's composer does not
    say, so the end of the node before it (or the start of its container)."""
    if parent is None:
        return None
    last: Node = parent
    if isinstance(index, Node):  # a mapping value: its key is composed, not yet stored
        last = index
    elif isinstance(parent, CollectionNode) and parent.value:
        item = parent.value[-1]
        last = item[1] if isinstance(item, tuple) else item
    else:
        return parent.start_mark
    mark: Mark = last.end_mark
    return mark


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [child for pair in node.value for child in pair]
    return list(node.value) if isinstance(node, CollectionNode) else []


def check_expansion(root: Node) -> None:
    """Raise _LimitError when aliases expand `root` past MAX_NODES values or into a loop.

    Sizes are memoised, so each node is visited once; and since every reference adds at
    least one value to the expansion, the walk stops after MAX_NODES references.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    references = 0
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            on_path.discard(id(node))
            sizes[id(node)] = _expanded(node, sizes)
        elif id(node) in on_path:
            raise _refused("an alias refers to a node that contains it", node.start_mark)
        elif id(node) not in sizes:
            children = _children(node)
            references += len(children)
            if references > MAX_NODES:
                raise _refused(TOO_MANY_EXPANDED, node.start_mark)
            on_path.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in children)


def _expanded(node: Node, sizes: dict[int, int]) -> int:
    size = 1 + sum(sizes[id(child)] for child in _children(node))
    if size > MAX_NODES:
        raise _refused(TOO_MANY_EXPANDED, node.start_mark)
    return size


def yaml_load(text: str, loader: type[Any] = LOADER) -> Any:
    """The document in `text`; RulesError naming line and column of a syntax error
    (YamlLimitError when it crosses a limit)."""
    try:
        return yaml.load(text, Loader=loader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        error = YamlLimitError if _is_limit(exc) else RulesError
        raise error([_marked(exc)]) from None
    except yaml.YAMLError as exc:
        raise RulesError([f"(document): invalid YAML: {exc}"]) from None
    except RecursionError:
        raise YamlLimitError(["(document): nested too deeply"]) from None
    except (ValueError, TypeError, OverflowError) as exc:
        # PyYAML's constructors raise these for values such as the date 2024-13-45.
        raise RulesError([f"(document): invalid YAML value: {exc}"]) from None


def _is_limit(exc: yaml.MarkedYAMLError) -> bool:
    # libyaml's own bound on nesting (1,000 levels) is a limit as much as ours.
    return isinstance(exc, _LimitError) or exc.problem == "exceeded maximum nesting depth"


def _marked(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    if mark is None:
        return f"(document): {problem}"
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
