"""The `slack` format: an incoming-webhook message with Block Kit blocks."""

from __future__ import annotations

import re
from typing import Any

from service.models.firing import Firing
from workers.notify.message import (
    best_text,
    clip,
    describe_actions,
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


def _field(label: str, value: str | None) -> dict[str, str]:
    return _mrkdwn(f"*{label}*\n" + clip_escaped(value or "unknown", FIELD_MAX - len(label) - 3))


def _job_field(firing: Firing, ctx: RenderContext) -> dict[str, str]:
    url = job_url(ctx.external_url, firing.job.key)
    if url is None:
        return _field("Job", firing.job.id)
    # `|` ends a link's URL part; the URL is percent-encoded, the label escaped.
    label = clip_escaped(firing.job.id, FIELD_MAX // 2)
    return _mrkdwn(f"*Job*\n<{escape(url)}|{label}>")


def _details(firing: Firing) -> str:
    lines = [escape(one_line(firing.reason) or headline(firing))]
    if firing.values:
        lines.append("*Values:* " + escape(values_text(firing.values)))
    best = best_text(firing)
    if best:
        lines.append("*Best:* " + escape(best.removeprefix("best ")))
    text = "\n".join(lines)
    if len(text) <= TEXT_MAX:
        return text
    return _PARTIAL_ENTITY.sub("", text[: TEXT_MAX - 1]) + "…"


def build(firing: Firing, ctx: RenderContext) -> dict[str, Any]:
    """The message; `text` is the fallback shown in notifications and by old clients."""
    job = firing.job
    fields = [
        _job_field(firing, ctx),
        _field("Model", job.model),
        _field("Method", job.method),
        _field("Step", None if job.step is None else str(job.step)),
    ]
    if job.status:
        fields.append(_field("Status", job.status))
    title = headline(firing)
    done = "Done: " + describe_actions(firing.actions)
    return {
        "text": clip_escaped(f"{title}: {one_line(firing.reason)}", TEXT_MAX),
        "blocks": [
            # plain_text is shown literally by Slack: escaping here would print "&amp;".
            {"type": "header", "text": {"type": "plain_text", "text": clip(title, HEADER_MAX)}},
            {"type": "section", "fields": fields},
            {"type": "section", "text": _mrkdwn(_details(firing))},
            {"type": "context", "elements": [_mrkdwn(clip_escaped(done, TEXT_MAX))]},
        ],
    }
