"""Every time in the API is ISO-8601 (`format: date-time`), or says it is epoch seconds
(`*_epoch`): a new field cannot slip back to a bare number (issue 18)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from service.api.openapi import build_openapi
from service.api.setup import routes_for

DOC = build_openapi(routes_for("all"), title="ftwatch", version="test")
SCHEMAS: dict[str, Any] = DOC["components"]["schemas"]
# A time by its name: `created_at`, `at`, `cooldown_until`, `since`, `startsAt`, `timestamp`.
TIME_NAME = re.compile(r"(^|_)(at|until|since|time|timestamp)$|[a-z]At$")
# Inputs in a vendor's own format, which ftwatch reads as that vendor writes them.
VENDOR_INPUTS = {
    ("OpenAIWebhook", "created_at"),  # OpenAI's webhook: unix seconds
    ("AlertmanagerAlert", "startsAt"),  # Alertmanager's webhook: Go's RFC 3339 text
    ("AlertmanagerAlert", "endsAt"),
}


def refs(node: Any) -> Iterator[str]:
    """The component names `node` refers to, at any depth."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref.rsplit("/", 1)[-1]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def reachable(roots: Iterator[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += refs(SCHEMAS[name])
    return seen


def operations() -> Iterator[dict[str, Any]]:
    for methods in DOC["paths"].values():
        yield from methods.values()


def responses() -> set[str]:
    return reachable(name for op in operations() for name in refs(op["responses"]))


def requests() -> set[str]:
    return reachable(name for op in operations() for name in refs(op.get("requestBody", {})))


def time_fields(names: set[str]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name in sorted(names):
        for field, prop in SCHEMAS[name].get("properties", {}).items():
            if TIME_NAME.search(field):
                yield name, field, prop


def branches(prop: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives of a property, `null` left out."""
    options = prop.get("anyOf", [prop])
    return [o for o in options if o != {"type": "null"}]


def is_date_time(option: dict[str, Any]) -> bool:
    return option.get("type") == "string" and option.get("format") == "date-time"


def test_every_time_in_a_response_is_date_time_or_named_epoch() -> None:
    found = list(time_fields(responses()))
    assert len(found) >= 8  # the name pattern does find the times (fired_at, created_at, …)
    wrong = [
        f"{name}.{field}: {prop}"
        for name, field, prop in found
        if not field.endswith("_epoch") and not all(map(is_date_time, branches(prop)))
    ]
    assert wrong == []
    # An epoch a client needs is a number, and its name says so.
    for name, schemas in SCHEMAS.items():
        for field, prop in schemas.get("properties", {}).items():
            if field.endswith("_epoch"):
                assert all(o.get("type") in {"number", "integer"} for o in branches(prop)), name


def test_every_time_an_input_takes_accepts_date_time() -> None:
    found = list(time_fields(requests()))
    assert ("IngestEvent", "created_at") in {(name, field) for name, field, _ in found}
    wrong = [
        f"{name}.{field}: {prop}"
        for name, field, prop in found
        if (name, field) not in VENDOR_INPUTS and not any(map(is_date_time, branches(prop)))
    ]
    assert wrong == []


def test_the_times_the_page_readers_see() -> None:
    """The fields users read first, by name, so a renamed one is noticed here."""
    expected = {
        ("JobView", "next_poll_at"),
        ("JobView", "next_event_at"),
        ("JobView", "last_event_at"),
        ("JobView", "updated_at"),
        ("EventView", "created_at"),
        ("FiringView", "fired_at"),
        ("FiringView", "event_created_at"),
        ("ActionResultView", "at"),
        ("DecisionView", "created_at"),
        ("DecisionAckView", "at"),
        ("AttemptView", "at"),
    }
    assert expected <= {(name, field) for name, field, _ in time_fields(responses())}
