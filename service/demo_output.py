"""What the demo prints: one line per notable event, firing and action outcome."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, TextIO

import redis.asyncio as aioredis

from service.models.event import NormalizedEvent
from service.store import audit, keys
from workers.notify.message import describe_action, format_number, summary_line
from workers.rules.detectors.base import count

# Quiet for this long (no new event or record) counts as idle: rules have caught up.
IDLE_SECONDS = 2.0
_HEADLINE = ("valid_reward_mean", "train_reward_mean", "train_loss", "valid_loss")


def event_line(event: NormalizedEvent) -> str | None:
    """A line for status changes, evaluation steps and every 5th step; None otherwise."""
    if event.type == "status":
        return f"{event.job_id}  {event.message}"
    step = event.step
    if event.type != "metrics" or step is None:
        return None
    evaluation = any(name.startswith("valid_") for name in event.metrics)
    if not evaluation and step % 5:
        return None
    total = event.metrics.get("total_steps")
    where = f"step {step}" + (f"/{int(total)}" if total else "")
    shown = [f"{n}={format_number(event.metrics[n])}" for n in _HEADLINE if n in event.metrics]
    return f"{event.job_id}  {where}  " + " ".join(shown)


class DemoPrinter:
    """Tails `ftwatch:events` and `ftwatch:actions` and prints them as they come."""

    def __init__(self, redis: aioredis.Redis, out: TextIO) -> None:
        self._redis = redis
        self._out = out
        self._last = {keys.EVENTS_STREAM: "0-0", keys.ACTIONS_STREAM: "0-0"}
        self._last_new = time.monotonic()
        self._done: dict[str, list[str]] = defaultdict(list)

    async def print_new(self) -> None:
        streams: Any = dict(self._last)
        reply: Any = await self._redis.xread(streams, count=500)
        for stream, entries in reply or []:
            for entry_id, fields in entries:
                self._last[stream] = entry_id
                self._last_new = time.monotonic()
                line = self._line(stream, fields)
                if line:
                    self._out.write(line + "\n")
        self._out.flush()

    def _line(self, stream: str, fields: dict[str, str]) -> str | None:
        if stream == keys.EVENTS_STREAM:
            return event_line(NormalizedEvent.model_validate_json(fields["e"]))
        item = audit.decode(fields)
        if item is None:
            return None
        if item.action is None:
            return "FIRED   " + summary_line(item.firing_part())
        action = item.action
        done = describe_action(action.result)
        self._done[action.job_id].append(done)
        return f"ACTION  {action.job_id}: {done} ({action.rule})"

    async def idle(self) -> bool:
        return time.monotonic() - self._last_new >= IDLE_SECONDS

    def summary(self, statuses: Mapping[str, str], notifications: int, seconds: float) -> str:
        """Every job's final status and what ftwatch did, the notifications, the time."""
        width = max(len(job_id) for job_id in [*statuses, "JOB"])
        lines = ["", f"Done in {seconds:.0f} s. What ftwatch did:"]
        lines.append(f"  {'JOB'.ljust(width)}  {'FINAL STATUS':<12}  ACTIONS")
        for job_id, status in sorted(statuses.items()):
            done = "; ".join(self._done.get(job_id, [])) or "none needed"
            lines.append(f"  {job_id.ljust(width)}  {status:<12}  {done}")
        sent = count(notifications, "notification")
        lines.append(f"{sent} delivered to the demo's receiver, each signed and verified.")
        return "\n".join(lines) + "\n"
