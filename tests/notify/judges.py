"""Judges of PagerDuty and Slack bodies: the vendors' documented shapes and limits.

PagerDuty: the request schemas of `tests.notify.pagerduty_schema` (ours, from the
reference's field tables) plus the limits those tables give in words (summary ≤ 1024,
dedup_key ≤ 255, a 32-character routing key, dedup_key required to resolve, payload to
trigger). Slack: the official
`slack_sdk` block models parse and validate every block (their validators mirror Slack's
reference: header ≤ 150, text ≤ 3000, fields ≤ 10 ...), plus ≤ 50 blocks and a `text`.
"""

from __future__ import annotations

from typing import Any

from openapi_schema_validator import OAS30Validator
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from tests.notify.pagerduty_schema import SCHEMAS

SUMMARY_MAX = 1024
DEDUP_KEY_MAX = 255
ROUTING_KEY_LENGTH = 32
SLACK_BLOCKS_MAX = 50
SLACK_HEADER_MAX = 150


def _schema_problems(path: str, body: Any) -> list[str]:
    errors = OAS30Validator(SCHEMAS[path]).iter_errors(body)
    return [f"{'.'.join(map(str, e.absolute_path)) or 'body'}: {e.message}" for e in errors]


def _limit_problems(path: str, body: dict[str, Any]) -> list[str]:
    problems = []
    if len(str(body.get("routing_key", ""))) != ROUTING_KEY_LENGTH:
        problems.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    summary = (body.get("payload") or {}).get("summary")
    if isinstance(summary, str) and len(summary) > SUMMARY_MAX:
        problems.append(f"'payload.summary' is longer than {SUMMARY_MAX} characters")
    key = body.get("dedup_key")
    if isinstance(key, str) and len(key) > DEDUP_KEY_MAX:
        problems.append(f"'dedup_key' is longer than {DEDUP_KEY_MAX} characters")
    action = body.get("event_action")
    if action in ("acknowledge", "resolve") and not key:
        problems.append("'dedup_key' is required to acknowledge or resolve")
    if action == "trigger" and "payload" not in body:
        problems.append("'payload' is required to trigger")
    return problems


def pagerduty_problems(path: str, body: Any) -> list[str]:
    """Why PagerDuty would answer 400 to `body` at `path` (empty: it would take it)."""
    if path not in SCHEMAS:
        return [f"no such endpoint {path!r}"]
    problems = _schema_problems(path, body)
    return problems or _limit_problems(path, body)


def _block_problems(index: int, raw: Any) -> list[str]:
    block = Block.parse(raw)
    if block is None:
        return [f"blocks[{index}]: not a block slack_sdk knows: {raw!r:.80}"]
    try:
        block.validate_json()
    except SlackObjectFormationError as exc:
        return [f"blocks[{index}]: {exc}"]
    # A field the model does not know is dropped by parsing: Slack would refuse it.
    if block.to_dict() != raw:
        return [f"blocks[{index}]: fields slack_sdk does not know: {raw!r:.200}"]
    return []


def slack_problems(body: Any) -> list[str]:
    """Why Slack would refuse (or render badly) this incoming-webhook message."""
    if not isinstance(body, dict):
        return ["body is not an object"]
    problems = []
    if not isinstance(body.get("text"), str) or not body["text"].strip():
        problems.append("no `text` fallback")
    blocks = body.get("blocks")
    if not isinstance(blocks, list) or not blocks:
        return [*problems, "no blocks"]
    if len(blocks) > SLACK_BLOCKS_MAX:
        problems.append(f"{len(blocks)} blocks: more than {SLACK_BLOCKS_MAX}")
    for i, raw in enumerate(blocks):
        problems += _block_problems(i, raw)
        if raw.get("type") == "header" and len(raw["text"]["text"]) > SLACK_HEADER_MAX:
            problems.append(f"blocks[{i}]: header longer than {SLACK_HEADER_MAX}")
    return problems
