"""The audit log `ftwatch:actions`: every firing and action, one Firing JSON per entry."""

from __future__ import annotations

import re

import redis.asyncio as aioredis
import structlog
from pydantic import ValidationError

from service.models.firing import Firing
from service.models.ident import JobRef
from service.store import keys
from service.store.stream_scan import ScanPage, scan_back

log = structlog.get_logger(__name__)

FIELD = "f"
# Approximate cap of the audit stream: years of firings for a team's jobs, yet bounded
# memory. Trimmed entries are only history; nothing reads them as work.
MAXLEN = 100_000
PLAIN = re.compile(r"[A-Za-z0-9_.:-]+")


def encode(firing: Firing) -> dict[str, str]:
    """The stream fields of one audit entry."""
    return {FIELD: firing.model_dump_json()}


def decode(fields: dict[str, str]) -> Firing | None:
    """The Firing of an entry, or None (logged) when the entry cannot be read."""
    raw = fields.get(FIELD)
    if raw is None:
        return None
    try:
        return Firing.model_validate_json(raw)
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
        entry_id = await self._redis.xadd(
            keys.ACTIONS_STREAM,
            encode(firing),  # type: ignore[arg-type]
            maxlen=self._maxlen,
            approximate=True,
        )
        return str(entry_id)

    async def page(
        self,
        *,
        job_id: str | None = None,
        rule: str | None = None,
        before: str | None = None,
        limit: int = 50,
        max_scan: int = 10_000,
    ) -> ScanPage[Firing]:
        """Entries older than `before`, newest first, of `job_id` and `rule` when given.

        `job_id` is an upstream id (any provider's) or a `<provider>:<id>` key.
        """
        ref = JobRef.parse(job_id) if job_id is not None and ":" in job_id else None
        bare = ref.id if ref is not None else job_id
        needle = bare if bare is not None and PLAIN.fullmatch(bare) else None

        def parse(_entry_id: str, fields: dict[str, str]) -> Firing | None:
            # Cheap pre-filter on the raw JSON before a full validation of every entry
            # (only for ids that JSON writes verbatim, so escaping cannot hide a match).
            if needle is not None and needle not in fields.get(FIELD, ""):
                return None
            firing = decode(fields)
            if firing is None:
                return None
            if job_id is not None and job_id not in (firing.job.id, firing.job.key):
                return None
            if rule is not None and firing.rule != rule:
                return None
            return firing

        return await scan_back(
            self._redis, keys.ACTIONS_STREAM, parse, before=before, limit=limit, max_scan=max_scan
        )
