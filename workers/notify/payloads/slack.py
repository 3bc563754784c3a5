"""The `slack` format: an incoming-webhook message with Block Kit blocks and a `text` fallback.

Blocks: a header (what happened), a section with the reason in words and the figures
(values, best, checkpoint, step, status, actions), a context line naming provider, job and
rule, and a link to the job in ftwatch's API when its external URL is known. Resolve
notices are messages of their own (Slack has nothing to close). Every limit of Block Kit is
kept by construction: 4 blocks of at most 50, header ≤ 150, texts ≤ 3000, fields ≤ 2000.
"""

from __future__ import annotations

import re
from typing import Any

from service.models.firing import Firing
from workers.notify.message import (
    clip,
    describe_actions,
    format_number,
    headline,
    one_line,
    values_text,
)
from workers.notify.payloads.context import RenderContext
from workers.notify.payloads.encoding import job_url

# Block Kit limits: header text 150 chars, any text object 3000, a section field 2000.
HEADER_MAX = 150
TEXT_MAX = 3000
FIELD_MAX = 2000
BLOCKS_MAX = 50
CONTEXT_ITEM_MAX = 300  # ours, not Slack's: a context line is read at a glance
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")


def escape(text: str) -> str:
    """Slack's required escaping of `&`, `<`, `>` (only these: others would show literally)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip_escaped(text: str, limit: int) -> str:
    """`text` escaped, then cut to `limit` characters without splitting an entity."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    return _PARTIAL_ENTITY.sub("", escaped[: limit - 1]) + "…"


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _field(label: str, value: str) -> dict[str, str]:
    return _mrkdwn(f"*{label}*\n" + clip_escaped(value, FIELD_MAX - len(label) - 3))


def _best(firing: Firing) -> str | None:
    if firing.best is None and firing.best_step is None:
        return None
    value = format_number(firing.best) if firing.best is not None else "best"
    return value + (f" at step {firing.best_step}" if firing.best_step is not None else "")


def _figures(firing: Firing) -> list[dict[str, str]]:
    """The numbers a reader acts on, as section fields (at most 10; we make at most 6)."""
    job = firing.job
    known = [
        ("Values", values_text(firing.values) if firing.values else None),
        ("Best", _best(firing)),
        ("Checkpoint", firing.checkpoint),
        ("Step", None if job.step is None else str(job.step)),
        ("Status", job.status),
        ("Actions", describe_actions(firing.actions) if firing.actions else None),
    ]
    return [_field(label, value) for label, value in known if value]


def _section(firing: Firing) -> dict[str, Any]:
    reason = clip_escaped(one_line(firing.reason) or headline(firing), TEXT_MAX)
    section: dict[str, Any] = {"type": "section", "text": _mrkdwn(reason)}
    figures = _figures(firing)
    if figures:
        section["fields"] = figures
    return section


def _context(firing: Firing) -> dict[str, Any]:
    job = firing.job
    parts = [("provider", job.provider), ("job", job.id), ("rule", firing.rule)]
    parts += [
        (name, value) for name, value in (("model", job.model), ("method", job.method)) if value
    ]
    elements = [
        _mrkdwn(f"{name} *{clip_escaped(value, CONTEXT_ITEM_MAX)}*") for name, value in parts
    ]
    return {"type": "context", "elements": elements}


def _link(firing: Firing, ctx: RenderContext) -> dict[str, Any] | None:
    url = job_url(ctx.external_url, firing.job.key)
    if url is None:
        return None
    # `|` ends a link's URL part; the URL is percent-encoded, the label escaped.
    label = clip_escaped(firing.job.id, CONTEXT_ITEM_MAX)
    text = f"<{escape(url)}|Open {label} in ftwatch>"
    # A URL cannot be cut; one too long for a text object (a job id of thousands of
    # characters) leaves the message without its link rather than refused whole.
    return {"type": "section", "text": _mrkdwn(text)} if len(text) <= TEXT_MAX else None


def fallback(firing: Firing) -> str:
    """The plain `text`: what notifications, screen readers and old clients show."""
    text = f"{headline(firing)}: {one_line(firing.reason)}"
    if firing.checkpoint:
        text += f"; best checkpoint {firing.checkpoint}"
    return clip_escaped(text, TEXT_MAX)


def build(firing: Firing, ctx: RenderContext) -> dict[str, Any]:
    """The message; `text` is the fallback shown in notifications and by old clients."""
    # plain_text is shown literally by Slack: escaping here would print "&amp;".
    title = {"type": "plain_text", "text": clip(headline(firing), HEADER_MAX), "emoji": False}
    blocks = [{"type": "header", "text": title}, _section(firing), _context(firing)]
    link = _link(firing, ctx)
    if link is not None:
        blocks.append(link)
    return {"text": fallback(firing), "blocks": blocks}
