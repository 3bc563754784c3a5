"""Per-job rule state and the atomic commit of what the rules decided."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from service.store import keys
from service.store.scripts import Scripts

# Audit log length bound: a year of firings for hundreds of jobs, a few hundred MB at most.
AUDIT_MAXLEN = 100_000
_RESUMES = "_resumes:"


@dataclass(frozen=True)
class StoredRules:
    """A job's rule states as stored: raw JSON per rule, the last event sequence, version."""

    version: str
    last_seq: int | None
    states: dict[str, str]
    resumes: dict[str, int]


@dataclass
class Commit:
    """Everything one decision writes; every payload is already-encoded JSON."""

    seq: int | None = None
    states: dict[str, str] = field(default_factory=dict)
    firings: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    delayed: list[tuple[int, str]] = field(default_factory=list)
    deliveries: list[tuple[str, str]] = field(default_factory=list)
    resumed_by: list[str] = field(default_factory=list)  # rules that scheduled a resume
    dead: list[tuple[str, str]] = field(default_factory=list)  # (event json, error)


class RuleStateStore:
    """Loads a job's rule states and commits decisions, guarded by the state's version."""

    def __init__(self, client: aioredis.Redis, scripts: Scripts, *, group: str) -> None:
        self._redis = client
        self._scripts = scripts
        self._group = group

    async def load(self, job_id: str) -> StoredRules:
        raw: Any = await self._redis.hgetall(keys.rule_state(job_id))
        seq = raw.pop("_seq", None)
        resumes = {k[len(_RESUMES) :]: int(v) for k, v in raw.items() if k.startswith(_RESUMES)}
        return StoredRules(
            version=raw.pop("_v", "0"),
            last_seq=int(seq) if seq is not None else None,
            states={k: v for k, v in raw.items() if not k.startswith("_")},
            resumes=resumes,
        )

    async def commit(self, job_id: str, version: str, commit: Commit, entry_id: str = "") -> bool:
        """Write `commit` if the state is still at `version`; False when someone was first."""
        plan = {
            "seq": "" if commit.seq is None else str(commit.seq),
            "states": commit.states,
            "counters": [f"{_RESUMES}{rule}" for rule in commit.resumed_by],
            "firings": commit.firings,
            "tasks": commit.tasks,
            "delayed": [[str(score), task] for score, task in commit.delayed],
            "deliveries": [list(pair) for pair in commit.deliveries],
            "dead": [list(pair) for pair in commit.dead],
            "entry": entry_id,
            "group": self._group,
            "audit_maxlen": str(AUDIT_MAXLEN),
        }
        done = await self._scripts.commit_rules(
            keys=[
                keys.rule_state(job_id),
                keys.EVENTS_STREAM,
                keys.ACTIONS_STREAM,
                keys.ACTION_QUEUE,
                keys.DELAYED,
                keys.DELIVERIES_STREAM,
                keys.DEAD_EVENTS_STREAM,
            ],
            args=[version, json.dumps(plan)],
        )
        return bool(done)
