"""The action-queue handler and the delayed-action mover, as background loops."""

from __future__ import annotations

import asyncio

import structlog
from pydantic import ValidationError
from redis.exceptions import RedisError

from service.models.action import ActionTask
from service.store.effects import Effects
from service.store.schedule import now_ms
from service.upstream.errors import UpstreamError
from workers.actions.executor import ActionExecutor
from workers.outage import Outage
from workers.stream.consumer import Disposition, Fields
from workers.waiting import wait_event

log = structlog.get_logger(__name__)

# After this many deliveries with the upstream still failing, the action is recorded as
# failed (and notified) instead of being retried again. Each delivery already retried
# the call with backoff inside the client.
MAX_ACTION_DELIVERIES = 4
# Delayed actions are checked this often: `resume after` is minutes, not milliseconds.
DELAYED_TICK_SECONDS = 0.25


class ActionQueueHandler:
    """Consumer handler for `ftwatch:action-queue`."""

    def __init__(self, executor: ActionExecutor) -> None:
        self._executor = executor

    async def handle(self, entry_id: str, fields: Fields, deliveries: int) -> Disposition:
        try:
            task = ActionTask.model_validate_json(fields.get("t", ""))
        except ValidationError as exc:
            log.error("action_unreadable", entry_id=entry_id, error=str(exc)[:500])
            return Disposition.DONE
        try:
            await self._executor.execute(task)
        except UpstreamError as exc:
            if deliveries < MAX_ACTION_DELIVERIES:
                raise  # left pending: reclaimed and retried after the idle time
            await self._executor.give_up(task, exc)
        return Disposition.DONE


async def move_delayed(effects: Effects, stop: asyncio.Event) -> None:
    """Move due delayed actions to the queue until `stop` (safe on every replica)."""
    outage = Outage("delayed-actions")
    while not stop.is_set():
        try:
            moved = await effects.move_due(now_ms())
            if moved:
                log.info("delayed_actions_due", count=moved)
            outage.ended()
        except RedisError as exc:
            await outage.wait(exc, stop)
            continue
        await wait_event(stop, DELAYED_TICK_SECONDS)
