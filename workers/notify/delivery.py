"""One webhook delivery: a firing for a receiver, its stable id and its attempts. Pure.

The id is the Standard Webhooks `webhook-id`: the same on every attempt and on a replay,
different for each distinct message a firing causes (the firing itself, each failed
action, its resolve notice), so a receiver may deduplicate on it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from service.models.firing import Firing
from workers.notify.signing import webhook_id

# A receiver's error body is quoted in the attempt record only this far (dead letters
# list every attempt; the gist is enough to see why, e.g. Slack's "invalid_payload").
DETAIL_MAX = 200


def message_key(firing: Firing) -> str:
    """What makes a message distinct: the firing, plus which notice of it this is."""
    key = firing.firing_id
    if firing.type == "ftwatch.action.failed":
        key += "/failed/" + ",".join(sorted(result.action for result in firing.actions))
    if firing.resolved:
        key += "/resolved"
    return key


def delivery_id(firing: Firing, receiver: str) -> str:
    """The delivery's id and `webhook-id` (a plain firing keeps `webhook_id(firing_id, r)`)."""
    return webhook_id(message_key(firing), receiver)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try: when, how long, and the HTTP status or the error (neither: sent, no HTTP)."""

    at: float  # epoch seconds
    duration: float
    status: int | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds the receiver asked us to wait
    detail: str = ""  # start of the response body of a failed attempt
    permanent: bool = False  # an error that no retry can fix (not stored)

    def to_json(self) -> dict[str, Any]:
        """The stored form: `{at, status|error, duration}` plus what is known beyond that."""
        data: dict[str, Any] = {"at": round(self.at, 3), "duration": round(self.duration, 3)}
        if self.status is not None:
            data["status"] = self.status
        if self.error is not None:
            data["error"] = self.error
        if self.retry_after is not None:
            data["retry_after"] = round(self.retry_after, 3)
        if self.detail:
            data["detail"] = self.detail
        return data

    @classmethod
    def from_json(cls, data: Any) -> Attempt:
        """An attempt as stored; unknown or broken fields read as absent."""
        if not isinstance(data, dict):
            return cls(at=0.0, duration=0.0, error="unreadable attempt record")
        status = data.get("status")
        return cls(
            at=_number(data.get("at")),
            duration=_number(data.get("duration")),
            status=status if isinstance(status, int) else None,
            error=str(data["error"]) if data.get("error") is not None else None,
            retry_after=_number(data.get("retry_after")) or None,
            detail=str(data.get("detail") or ""),
        )


def _number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return 0.0


def attempts_json(attempts: tuple[Attempt, ...] | list[Attempt]) -> str:
    return json.dumps([a.to_json() for a in attempts], separators=(",", ":"))


def parse_attempts(text: str) -> tuple[Attempt, ...]:
    """Stored attempts; an unreadable history reads as empty rather than failing delivery."""
    try:
        data = json.loads(text)
    except ValueError:
        return ()
    return tuple(Attempt.from_json(a) for a in data) if isinstance(data, list) else ()


def dead_letter_json(
    delivery_id: str,
    receiver: str,
    firing_json: str,
    attempts: tuple[Attempt, ...],
    *,
    reason: str,
    since: float,
) -> str:
    """The dead-letter record (`d`), as service/store/dead_letters.py reads it."""
    try:
        firing: Any = json.loads(firing_json)
    except ValueError:
        firing = firing_json  # kept verbatim; the API lists it as unreadable
    record = {
        "id": delivery_id,
        "receiver": receiver,
        "firing": firing,
        "attempts": [a.to_json() for a in attempts],
        "reason": reason,
        "since": round(since, 3),
    }
    return json.dumps(record, separators=(",", ":"))
