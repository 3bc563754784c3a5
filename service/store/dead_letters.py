"""Parked webhook deliveries (`ftwatch:deliveries:dead`): list them, replay one.

Entry format (written by the notification worker): one field `d`, a JSON object with at
least `id`, `receiver`, `firing` (Firing JSON) and `attempts` (list). A replay puts the
firing back on `ftwatch:deliveries` for that receiver and removes the dead entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
import structlog
from pydantic import ValidationError

from service.models.firing import Firing
from service.store import keys
from service.store.stream_scan import ScanPage, is_stream_id, scan_back

log = structlog.get_logger(__name__)

FIELD = "d"
# Fields of a delivery request on `ftwatch:deliveries`: the firing and its receiver.
DELIVERY_FIRING = "f"
DELIVERY_RECEIVER = "r"

# Delete-then-add in one step: two concurrent replays of one entry deliver it once.
_REPLAY = """
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then
  return false
end
return redis.call('XADD', KEYS[2], '*', ARGV[2], ARGV[3], ARGV[4], ARGV[5])
"""


@dataclass(frozen=True)
class DeadDelivery:
    """One parked delivery as stored."""

    entry_id: str
    delivery_id: str
    receiver: str
    firing: Firing
    attempts: list[Any] = field(default_factory=list)
    raw_firing: str = ""


def decode(entry_id: str, fields: dict[str, str]) -> DeadDelivery | None:
    """The parked delivery of an entry, or None (logged) when it cannot be read."""
    try:
        data = json.loads(fields.get(FIELD, ""))
        firing_data = data["firing"]
        firing = Firing.model_validate(firing_data)
        attempts = data.get("attempts") or []
        return DeadDelivery(
            entry_id=entry_id,
            delivery_id=str(data.get("id", "")),
            receiver=str(data["receiver"]),
            firing=firing,
            attempts=attempts if isinstance(attempts, list) else [],
            raw_firing=json.dumps(firing_data),
        )
    except (ValueError, TypeError, KeyError, ValidationError) as exc:
        log.warning("dead_letter_unreadable", entry_id=entry_id, error=type(exc).__name__)
        return None


class DeadLetters:
    """Reads the dead-letter stream and moves entries back to the delivery stream."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client
        self._replay = client.register_script(_REPLAY)

    async def page(
        self, *, before: str | None = None, limit: int = 50, max_scan: int = 10_000
    ) -> ScanPage[DeadDelivery]:
        """Parked deliveries older than `before`, newest first."""
        return await scan_back(
            self._redis,
            keys.dead_deliveries_stream(),
            decode,
            before=before,
            limit=limit,
            max_scan=max_scan,
        )

    async def get(self, entry_id: str) -> DeadDelivery | None:
        """The parked delivery `entry_id`, or None when there is no such (readable) entry."""
        if not is_stream_id(entry_id):
            return None
        rows: Any = await self._redis.xrange(keys.dead_deliveries_stream(), entry_id, entry_id)
        if not rows:
            return None
        found_id, fields = rows[0]
        return decode(str(found_id), fields)

    async def replay(self, dead: DeadDelivery) -> str | None:
        """Queue `dead` for delivery again; the new entry id, or None if already replayed."""
        fields = [DELIVERY_FIRING, dead.raw_firing, DELIVERY_RECEIVER, dead.receiver]
        stream = keys.deliveries_stream(keys.partition(dead.firing.job.key))
        if keys.clustered():
            return await self._replay_across_slots(dead.entry_id, stream, fields)
        new_id = await self._replay(
            keys=[keys.dead_deliveries_stream(), stream], args=[dead.entry_id, *fields]
        )
        return str(new_id) if new_id else None

    async def _replay_across_slots(
        self, entry_id: str, stream: str, fields: list[str]
    ) -> str | None:
        """The cluster's replay: the dead letters and the partition's stream are two slots.

        Request first, then XDEL: a crash in between leaves the entry to replay again, and
        a second request for a delivery already queued is a no-op at admission (its record
        says `queued`), so nothing is lost and nothing is sent twice. An entry already gone
        (replayed before) adds nothing."""
        if not await self._redis.xrange(keys.dead_deliveries_stream(), entry_id, entry_id):
            return None
        new_id = await self._redis.xadd(stream, dict(zip(fields[::2], fields[1::2], strict=True)))
        deleted = await self._redis.xdel(keys.dead_deliveries_stream(), entry_id)
        return str(new_id) if deleted else None
