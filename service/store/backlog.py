"""How far behind a consumer group is on a stream: unread plus unacknowledged entries."""

from __future__ import annotations

from dataclasses import dataclass

from service.store.scripts import Scripts


@dataclass(frozen=True)
class Backlog:
    """Entries the group still has to finish; `exact` is False when counting stopped early."""

    entries: int
    exact: bool


async def stream_backlog(scripts: Scripts, stream: str, group: str, *, limit: int) -> Backlog:
    """The group's backlog on `stream`, counted exactly up to `limit` unread entries.

    Works on Redis 6.2 (no XINFO `lag`) as on 7+. A missing group counts the whole
    stream: it will read from the start once created.
    """
    reply = await scripts.stream_backlog(keys=[stream], args=[group, max(1, limit)])
    return Backlog(entries=int(reply[0]), exact=bool(int(reply[1])))
