"""GET /v1/deliveries/dead and POST /v1/deliveries/dead/{delivery_id}/replay."""

from __future__ import annotations

import re
from typing import Any

import structlog
from aiohttp import web
from pydantic import ValidationError

from service import keys
from service.api.errors import ApiError
from service.api.routing import Routes
from service.api.rules import redact_url
from service.api.schemas import (
    AttemptView,
    DeadDeliveryView,
    DeadPage,
    FiringView,
    PageQuery,
    ReplayResult,
    StreamId,
    view_of,
)
from service.store.dead_letters import DeadDelivery, DeadLetters

log = structlog.get_logger(__name__)
routes = Routes("deliveries")
MAX_SCAN = 10_000
_URL = re.compile(r"https?://[^\s\"'<>]+")


def _redact(value: Any) -> Any:
    """Attempt records may quote the receiver's URL, whose path can hold its token."""
    if isinstance(value, str):
        return _URL.sub(lambda m: redact_url(m.group(0)), value)
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _view(dead: DeadDelivery) -> DeadDeliveryView:
    return DeadDeliveryView(
        id=dead.entry_id,
        delivery_id=dead.delivery_id,
        receiver=dead.receiver,
        firing=view_of(FiringView, dead.firing),
        attempts=[_attempt(_redact(raw)) for raw in dead.attempts],
    )


def _attempt(raw: Any) -> AttemptView:
    """An attempt as stored (`{at, duration, status|error, …}`); a broken one says so."""
    try:
        return AttemptView.model_validate(raw)
    except ValidationError:
        return AttemptView(error="unreadable attempt record")


@routes.get("/v1/deliveries/dead", "Webhook deliveries that never succeeded, newest first")
async def list_dead(request: web.Request, query: PageQuery) -> DeadPage:
    page = await DeadLetters(request.app[keys.REDIS]).page(
        before=query.cursor, limit=query.limit, max_scan=MAX_SCAN
    )
    return DeadPage(data=[_view(d) for _, d in page.items], next_cursor=page.next_cursor)


@routes.post(
    "/v1/deliveries/dead/{delivery_id}/replay",
    "Queue a parked delivery again",
    auth=True,
    status=202,
)
async def replay_dead(request: web.Request, delivery_id: StreamId) -> ReplayResult:
    """Moves the entry back to the delivery queue for its receiver (once, even when
    replayed twice at the same moment); it is retried from scratch."""
    letters = DeadLetters(request.app[keys.REDIS])
    dead = await letters.get(delivery_id)
    queued = await letters.replay(dead) if dead is not None else None
    if dead is None or queued is None:
        raise ApiError(404, "delivery_not_found", f"no parked delivery {delivery_id!r}")
    log.info("delivery_replayed", receiver=dead.receiver, firing_id=dead.firing.firing_id)
    return ReplayResult(id=delivery_id, receiver=dead.receiver, queued_as=queued)
