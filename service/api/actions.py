"""GET /v1/actions: the audit log of firings and actions, newest first."""

from __future__ import annotations

from aiohttp import web

from service import keys
from service.api.routing import Routes
from service.api.schemas import AuditEntry, AuditPage, AuditQuery, FiringView, view_of
from service.store.audit import AuditLog

routes = Routes("audit")

# Audit entries examined per request when filtering; the page ends early with a cursor.
MAX_SCAN = 10_000


@routes.get("/v1/actions", "The audit log: every firing and action (filter by job, rule)")
async def list_actions(request: web.Request, query: AuditQuery) -> AuditPage:
    """Manual actions appear with `rule: api` and `kind: manual`. A page examines at most
    10,000 entries; follow `next_cursor` for older ones."""
    page = await AuditLog(request.app[keys.REDIS]).page(
        job_id=query.job_id,
        rule=query.rule,
        before=query.cursor,
        limit=query.limit,
        max_scan=MAX_SCAN,
    )
    entries = [AuditEntry(id=i, firing=view_of(FiringView, f)) for i, f in page.items]
    return AuditPage(data=entries, next_cursor=page.next_cursor)
