"""PagerDuty Events API v2 request bodies as JSON Schema, written by us from the facts in
shared/reference/alerting.md §3.1 (alert events) and §3.3 (change events).

The limits the tables give in words (summary ≤ 1024, dedup_key ≤ 255, a 32-character
routing key, dedup_key to acknowledge or resolve, payload to trigger) are checked in
`tests.notify.judges`, which names each the way PagerDuty's 400 does.
"""

from __future__ import annotations

from typing import Any

_STRING = {"type": "string"}
_LINKS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["href"],
        "properties": {"href": _STRING, "text": _STRING},
    },
}
_IMAGES = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["src"],
        "properties": {"src": _STRING, "href": _STRING, "alt": _STRING},
    },
}
_COMMON_PAYLOAD = {
    "summary": _STRING,
    "source": _STRING,
    "timestamp": {"type": "string", "format": "date-time"},
    "custom_details": {"type": "object"},
}

ALERT_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["routing_key", "event_action"],
    "properties": {
        "routing_key": _STRING,
        "event_action": {"type": "string", "enum": ["trigger", "acknowledge", "resolve"]},
        "dedup_key": _STRING,
        "payload": {
            "type": "object",
            "required": ["summary", "source", "severity"],
            "properties": {
                **_COMMON_PAYLOAD,
                "severity": {"type": "string", "enum": ["critical", "error", "warning", "info"]},
                "component": _STRING,
                "group": _STRING,
                "class": _STRING,
            },
        },
        "links": _LINKS,
        "images": _IMAGES,
        "client": _STRING,
        "client_url": _STRING,
    },
}

# No event_action, dedup_key or severity: a change event notifies no one (§3.3).
CHANGE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["routing_key", "payload"],
    "properties": {
        "routing_key": _STRING,
        "payload": {"type": "object", "required": ["summary"], "properties": _COMMON_PAYLOAD},
        "links": _LINKS,
    },
}

SCHEMAS = {"/v2/enqueue": ALERT_EVENT, "/v2/change/enqueue": CHANGE_EVENT}
