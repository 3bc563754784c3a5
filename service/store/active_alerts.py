"""Alerts ftwatch keeps posting to Alertmanager: firing ones until resolved, then the resolve.

Alertmanager forgets an alert that is not re-sent (its `endsAt` passes) and may lose a
resolve across a restart, so each alert of an `alertmanager` receiver is kept here and
re-sent on a cadence: firing ones until their resolve, resolved ones for a while after.

Layout, one entry per (receiver, label-set fingerprint), member `<receiver>|<fp>`
(receiver names never contain `|`):
- `ftwatch:alerts:due` (zset): when the entry is next re-sent (epoch ms). Claiming moves
  the score forward in the same script, so replicas never re-send one entry twice.
- `ftwatch:alerts:record` (hash): `{"firing_id", "alert", "ends"}`, the alert without its
  `endsAt`; `ends` is when it resolved (null while firing).
- `ftwatch:alerts:state` (hash): `<firing_id> active` or `<firing_id> resolved <ms>` (kept
  until then). One label set belongs to one episode at a time: a later episode's firing
  takes it over; an older episode's late firing or resolve changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from service.store import keys


def _keys() -> list[str]:
    """The three keys every alert script touches (one slot on a cluster: keys.py)."""
    return [keys.alerts_due(), keys.alerts_record(), keys.alerts_state()]


# ARGV: member, firing_id, record, due ms. 0: that firing was resolved already.
_ACTIVATE = """
local st = redis.call('HGET', KEYS[3], ARGV[1])
if st and string.sub(st, 1, #ARGV[2] + 9) == ARGV[2] .. ' resolved' then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2] .. ' active')
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
return 1
"""
# ARGV: member, firing_id, record, due ms, keep-until ms. 0: another episode holds it.
_RESOLVE = """
local st = redis.call('HGET', KEYS[3], ARGV[1])
if st and string.sub(st, 1, #ARGV[2] + 1) ~= ARGV[2] .. ' ' then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2] .. ' resolved ' .. ARGV[5])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
return 1
"""
# ARGV: now ms, next due ms, limit. Returns member, record pairs; forgets expired ones.
_CLAIM = """
local now = tonumber(ARGV[1])
local out = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[3])) do
  local st = redis.call('HGET', KEYS[3], m) or ''
  local keep = string.match(st, ' resolved (%d+)$')
  local record = redis.call('HGET', KEYS[2], m)
  if st == '' or not record or (keep and tonumber(keep) < now) then
    redis.call('ZREM', KEYS[1], m)
    redis.call('HDEL', KEYS[2], m)
    redis.call('HDEL', KEYS[3], m)
  else
    redis.call('ZADD', KEYS[1], ARGV[2], m)
    out[#out + 1] = m
    out[#out + 1] = record
  end
end
return out
"""
# ARGV: member, firing_id. Forgets the entry if that firing still holds it.
_DROP = """
local st = redis.call('HGET', KEYS[3], ARGV[1])
if not st or string.sub(st, 1, #ARGV[2] + 1) ~= ARGV[2] .. ' ' then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
"""


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    """One kept alert: whose it is, and what to post (`ends`: resolved at, epoch s)."""

    receiver: str
    fingerprint: str
    firing_id: str
    alert: dict[str, Any]
    ends: float | None = None

    @property
    def member(self) -> str:
        return member(self.receiver, self.fingerprint)


def member(receiver: str, fingerprint: str) -> str:
    return f"{receiver}|{fingerprint}"


def _record(alert: ActiveAlert) -> str:
    data = {"firing_id": alert.firing_id, "alert": alert.alert, "ends": alert.ends}
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def _parse(name: str, raw: str) -> ActiveAlert | None:
    """A stored entry; None when unreadable (it is then re-sent no more)."""
    receiver, _, fp = name.partition("|")
    try:
        data = json.loads(raw)
        ends = data.get("ends")
        return ActiveAlert(receiver, fp, str(data["firing_id"]), dict(data["alert"]), ends)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class ActiveAlerts:
    """Keeps, claims and forgets the alerts to re-send."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        resend_seconds: float = 60.0,
        keep_resolved_seconds: float = 300.0,
    ) -> None:
        self._redis = client
        self.resend_seconds = resend_seconds
        self._keep = keep_resolved_seconds
        self._activate = client.register_script(_ACTIVATE)
        self._resolve = client.register_script(_RESOLVE)
        self._claim = client.register_script(_CLAIM)
        self._drop = client.register_script(_DROP)

    def _next(self, now: float) -> int:
        return int((now + self.resend_seconds) * 1000)

    async def activate(self, alert: ActiveAlert, now: float) -> bool:
        """Keep a firing alert; False when that firing was resolved already (do not post)."""
        args: list[str | int] = [alert.member, alert.firing_id, _record(alert), self._next(now)]
        return bool(await self._activate(keys=_keys(), args=args))

    async def resolve(self, alert: ActiveAlert, now: float) -> ActiveAlert | None:
        """The resolve to post, with the kept alert's labels and `startsAt`; None when
        another episode holds the label set (posting would resolve that one)."""
        raw = await self._redis.hget(keys.alerts_record(), alert.member)
        kept = _parse(alert.member, str(raw)) if raw is not None else None
        if kept is not None and kept.firing_id == alert.firing_id:
            merged = {**kept.alert, "annotations": alert.alert.get("annotations", {})}
            alert = ActiveAlert(
                alert.receiver, alert.fingerprint, alert.firing_id, merged, alert.ends
            )
        keep_until = int((now + self._keep) * 1000)
        record = _record(alert)
        args: list[str | int] = [alert.member, alert.firing_id, record, self._next(now), keep_until]
        return alert if await self._resolve(keys=_keys(), args=args) else None

    async def claim_due(self, now: float, limit: int) -> list[ActiveAlert]:
        """Up to `limit` entries due for a re-send, each moved a re-send interval ahead."""
        reply: list[Any] = await self._claim(
            keys=_keys(), args=[int(now * 1000), self._next(now), limit]
        )
        parsed = (_parse(str(reply[i]), str(reply[i + 1])) for i in range(0, len(reply), 2))
        return [alert for alert in parsed if alert is not None]

    async def forget(self, alert: ActiveAlert) -> bool:
        """Stop re-sending `alert` (Alertmanager refuses it), unless another episode took over."""
        return bool(await self._drop(keys=_keys(), args=[alert.member, alert.firing_id]))

    async def retry_at(self, alerts: list[ActiveAlert], at: float) -> None:
        """Re-send these sooner than the cadence (Alertmanager was unreachable)."""
        if alerts:
            await self._redis.zadd(
                keys.alerts_due(), {a.member: int(at * 1000) for a in alerts}, xx=True
            )
