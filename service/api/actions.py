"""GET /v1/actions: the audit log of firings and actions, newest first."""

from __future__ import annotations

from aiohttp import web

from service import keys
from service.api.routing import Routes
from service.api.schemas import (
    ActionView,
    AuditEntry,
    AuditPage,
    AuditQuery,
    FiringView,
    view_of,
)
from service.store.audit import AuditItem, AuditLog

routes = Routes("audit")

# Audit entries examined per request when filtering; the page ends early with a cursor.
MAX_SCAN = 10_000


def _entry(entry_id: str, item: AuditItem) -> AuditEntry:
    return AuditEntry(
        id=entry_id,
        record="action" if item.action is not None else "firing",
        firing=view_of(FiringView, item.firing) if item.firing is not None else None,
        action=view_of(ActionView, item.action) if item.action is not None else None,
    )


@routes.get("/v1/actions", "The audit log: every firing and action (filter by job, rule, firing)")
async def list_actions(request: web.Request, query: AuditQuery) -> AuditPage:
    """A firing is recorded once (`record: firing`: rule, reason, values, best step), each
    action it causes after it (`record: action`: outcome, detail, checkpoint, actor, time,
    and the firing's `firing_id`; `?firing_id=` lists a firing with its actions). Manual
    actions are firings with `rule: api[:<actor>]` and `kind: manual`. A page examines at
    most 10,000 entries; follow `next_cursor` for older ones."""
    page = await AuditLog(request.app[keys.REDIS]).page(
        job_id=query.job_id,
        rule=query.rule,
        firing_id=query.firing_id,
        before=query.cursor,
        limit=query.limit,
        max_scan=MAX_SCAN,
    )
    entries = [_entry(entry_id, item) for entry_id, item in page.items]
    return AuditPage(data=entries, next_cursor=page.next_cursor)
