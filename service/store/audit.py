"""The audit log `ftwatch:actions`: every firing once, then each of its actions.

An entry holds one field: `f`, a Firing (recorded when it fires), or `a`, an ActionRecord
(an action's outcome, naming its firing's id). Entries of the version before issue 18
hold an action as a whole Firing (`f`, `stage: "action"`); they read as an action with
that firing beside it (models/audit.py `legacy_action`), so nothing needs migrating.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import redis.asyncio as aioredis
import structlog
from pydantic import ValidationError

from service.models.audit import ActionRecord, legacy_action
from service.models.firing import Firing
from service.models.ident import JobRef
from service.store import keys
from service.store.stream_scan import ScanPage, scan_back_all

log = structlog.get_logger(__name__)

FIELD = "f"  # a Firing
ACTION_FIELD = "a"  # an ActionRecord
# Approximate cap of the audit stream: years of firings for a team's jobs, yet bounded
# memory. Trimmed entries are only history; nothing reads them as work.
MAXLEN = 100_000
PLAIN = re.compile(r"[A-Za-z0-9_.:-]+")


@dataclass(frozen=True)
class AuditItem:
    """One entry: a firing, or an action (with its whole firing when an older version
    wrote it)."""

    firing: Firing | None = None
    action: ActionRecord | None = None

    def of_job(self, job_id: str) -> bool:
        """Whether the entry is about `job_id` (an upstream id or a `<provider>:<id>` key)."""
        if self.action is not None:
            return job_id in (self.action.job_id, self.action.job_key)
        return self.firing is not None and job_id in (self.firing.job.id, self.firing.job.key)

    @property
    def rule(self) -> str:
        return self.action.rule if self.action is not None else self.firing_part().rule

    @property
    def firing_id(self) -> str:
        return self.action.firing_id if self.action is not None else self.firing_part().firing_id

    def firing_part(self) -> Firing:
        assert self.firing is not None  # an item holds a firing, an action, or both
        return self.firing


def encode(firing: Firing) -> dict[str, str]:
    """The stream fields of a firing's entry."""
    return {FIELD: firing.model_dump_json()}


def encode_action(record: ActionRecord) -> dict[str, str]:
    """The stream fields of an action's entry."""
    return {ACTION_FIELD: record.model_dump_json()}


def decode(fields: dict[str, str]) -> AuditItem | None:
    """The firing or action of an entry, or None (logged) when the entry cannot be read."""
    try:
        if ACTION_FIELD in fields:
            return AuditItem(action=ActionRecord.model_validate_json(fields[ACTION_FIELD]))
        if FIELD in fields:
            firing = Firing.model_validate_json(fields[FIELD])
            return AuditItem(firing=firing, action=legacy_action(firing))
    except ValidationError as exc:
        log.warning("audit_entry_unreadable", errors=exc.error_count())
    return None


class AuditLog:
    """Appends firings and pages through them newest first, filtered by job and rule."""

    def __init__(self, client: aioredis.Redis, *, maxlen: int = MAXLEN) -> None:
        self._redis = client
        self._maxlen = maxlen

    async def record(self, firing: Firing) -> str:
        """Append `firing`; returns its entry id."""
        return await self._append(firing.job.key, encode(firing))

    async def record_action(self, record: ActionRecord) -> str:
        """Append an action's outcome; returns its entry id."""
        return await self._append(record.job_key, encode_action(record))

    async def _append(self, job: str, fields: dict[str, str]) -> str:
        """Onto the audit stream of the job's partition (the one stream on one Redis)."""
        entry_id = await self._redis.xadd(
            keys.actions_stream(keys.partition(job)),
            fields,  # type: ignore[arg-type]
            maxlen=self._maxlen,
            approximate=True,
        )
        return str(entry_id)

    async def page(
        self,
        *,
        job_id: str | None = None,
        rule: str | None = None,
        firing_id: str | None = None,
        before: str | None = None,
        limit: int = 50,
        max_scan: int = 10_000,
    ) -> ScanPage[AuditItem]:
        """Entries older than `before`, newest first, of `job_id`, `rule` and `firing_id`
        when given (`firing_id`: the firing and its actions).

        `job_id` is an upstream id (any provider's) or a `<provider>:<id>` key.
        """
        ref = JobRef.parse(job_id) if job_id is not None and ":" in job_id else None
        bare = ref.id if ref is not None else job_id
        needles = [n for n in (bare, firing_id) if n is not None and PLAIN.fullmatch(n)]

        def parse(_entry_id: str, fields: dict[str, str]) -> AuditItem | None:
            # Cheap pre-filter on the raw JSON before a full validation of every entry
            # (only for ids that JSON writes verbatim, so escaping cannot hide a match).
            raw = fields.get(ACTION_FIELD) or fields.get(FIELD) or ""
            if any(needle not in raw for needle in needles):
                return None
            item = decode(fields)
            if item is None:
                return None
            if job_id is not None and not item.of_job(job_id):
                return None
            if rule is not None and item.rule != rule:
                return None
            if firing_id is not None and item.firing_id != firing_id:
                return None
            return item

        streams = [keys.actions_stream(p) for p in keys.partitions()]
        return await scan_back_all(
            self._redis, streams, parse, before=before, limit=limit, max_scan=max_scan
        )
