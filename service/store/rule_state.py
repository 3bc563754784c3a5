"""Per-job rule state and the atomic commit of what the rules decided."""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from service.store import keys
from service.store.scripts import Scripts

# Audit log length bound: a year of firings for hundreds of jobs, a few hundred MB at most.
AUDIT_MAXLEN = 100_000
_RESUMES = "_resumes:"
# Versions are "<commits>.<nonce><n>": the count for people, the rest unique to this
# process's commits, so equal versions mean equal states (see load_rules.lua).
_NONCE = secrets.token_hex(6)
_serial = itertools.count(1)


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
    entries: list[str] = field(default_factory=list)  # stream entries it acknowledges


class RuleStateStore:
    """Loads a job's rule states and commits decisions, guarded by the state's version."""

    def __init__(self, client: aioredis.Redis, scripts: Scripts, *, group: str) -> None:
        self._redis = client
        self._scripts = scripts
        self._group = group

    async def load(self, job_id: str) -> StoredRules:
        raw: Any = await self._redis.hgetall(keys.rule_state(job_id))
        return _stored(raw)

    async def load_many(
        self, job_ids: Sequence[str], held: Sequence[str | None] | None = None
    ) -> list[StoredRules | None]:
        """Several jobs' states in one round trip; None where `held` (the version the
        caller holds, per job) is still the stored one."""
        versions = held or [None] * len(job_ids)
        loaded: list[StoredRules | None] = [None] * len(job_ids)
        for members in _by_partition(job_ids).values():  # one call per slot on a cluster
            replies: Any = await self._scripts.load_rules(
                keys=[keys.rule_state(job_ids[i]) for i in members],
                args=[versions[i] or "" for i in members],
            )
            for i, flat in zip(members, replies, strict=True):
                loaded[i] = None if flat is None else _stored(_pairs(flat))
        return loaded

    async def commit(self, job_id: str, version: str, commit: Commit) -> str | None:
        """Write `commit` if the state is still at `version`: the new version, or None
        when someone was first."""
        return (await self.commit_many([(job_id, version, commit)]))[0]

    async def commit_many(self, commits: Sequence[tuple[str, str, Commit]]) -> list[str | None]:
        """Each (job, version, commit) written if still at its version, in one script call:
        per job, its new version or None (lost the race).

        Each job's commit is atomic and guarded on its own; one losing its race does not
        hold back the others.
        """
        plans = [_plan(version, commit) for _, version, commit in commits]
        job_ids = [job_id for job_id, _, _ in commits]
        result: list[str | None] = [None] * len(commits)
        for p, members in _by_partition(job_ids).items():  # one call per slot on a cluster
            written: Any = await self._scripts.commit_rules(
                keys=[*shared_keys(p), *(keys.rule_state(job_ids[i]) for i in members)],
                args=[self._group, str(AUDIT_MAXLEN), json.dumps([plans[i] for i in members])],
            )
            for i, done in zip(members, written, strict=True):
                result[i] = plans[i]["next"] if done else None
        return result


def _by_partition(job_ids: Sequence[str]) -> dict[int, list[int]]:
    """The positions of the jobs, grouped by partition (one group on one Redis)."""
    groups: dict[int, list[int]] = {}
    for index, job_id in enumerate(job_ids):
        groups.setdefault(keys.partition(job_id), []).append(index)
    return groups


def shared_keys(p: int) -> tuple[str, ...]:
    """The keys a commit of partition `p`'s jobs may write besides their state hashes (the
    script's KEYS 1-6): the partition's streams, in one slot with its jobs' states."""
    return (
        keys.events_stream(p),
        keys.actions_stream(p),
        keys.action_queue(p),
        keys.delayed(p),
        keys.deliveries_stream(p),
        keys.dead_events_stream(p),
    )


def next_version(version: str) -> str:
    """A new version after `version`: one more commit, unique to this process's call."""
    count, _, _ = version.partition(".")
    commits = int(count) + 1 if count.isdigit() else 1
    return f"{commits}.{_NONCE}{next(_serial):x}"


def _plan(version: str, commit: Commit) -> dict[str, Any]:
    return {
        "version": version,
        "next": next_version(version),
        "seq": "" if commit.seq is None else str(commit.seq),
        "states": commit.states,
        "counters": [f"{_RESUMES}{rule}" for rule in commit.resumed_by],
        "firings": commit.firings,
        "tasks": commit.tasks,
        "delayed": [[str(score), task] for score, task in commit.delayed],
        "deliveries": [list(pair) for pair in commit.deliveries],
        "dead": [list(pair) for pair in commit.dead],
        "entries": commit.entries,
    }


def _pairs(flat: list[str]) -> dict[str, str]:
    """HGETALL's field/value list (as a script returns it) as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _stored(raw: dict[str, str]) -> StoredRules:
    seq = raw.pop("_seq", None)
    resumes = {k[len(_RESUMES) :]: int(v) for k, v in raw.items() if k.startswith(_RESUMES)}
    return StoredRules(
        version=raw.pop("_v", "0"),
        last_seq=int(seq) if seq is not None else None,
        states={k: v for k, v in raw.items() if not k.startswith("_")},
        resumes=resumes,
    )
