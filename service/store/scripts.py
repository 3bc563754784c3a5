"""The Lua scripts of the store, loaded once per client (EVALSHA, reloaded after a restart)."""

from __future__ import annotations

from importlib.resources import files

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript


def _source(name: str) -> str:
    return (files("service.store") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


class Scripts:
    """Registered scripts; redis-py falls back to SCRIPT LOAD when Redis forgot them."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.append_events: AsyncScript = client.register_script(_source("append_events"))
        self.claim_jobs: AsyncScript = client.register_script(_source("claim_jobs"))
        self.release_job: AsyncScript = client.register_script(_source("release_job"))
        self.watch_jobs: AsyncScript = client.register_script(_source("watch_jobs"))
        self.hold_lease: AsyncScript = client.register_script(_source("hold_lease"))
        self.release_lease: AsyncScript = client.register_script(_source("release_lease"))
        self.load_rules: AsyncScript = client.register_script(_source("load_rules"))
        self.commit_rules: AsyncScript = client.register_script(_source("commit_rules"))
        self.move_due: AsyncScript = client.register_script(_source("move_due"))
        self.admit_delivery: AsyncScript = client.register_script(_source("admit_delivery"))
        self.claim_deliveries: AsyncScript = client.register_script(_source("claim_deliveries"))
        self.finish_delivery: AsyncScript = client.register_script(_source("finish_delivery"))
        self.take_budget: AsyncScript = client.register_script(_source("take_budget"))
        self.take_pace: AsyncScript = client.register_script(_source("take_pace"))
        self.release_pace: AsyncScript = client.register_script(_source("release_pace"))
        self.stream_backlog: AsyncScript = client.register_script(_source("stream_backlog"))
        self.sweep_statuses: AsyncScript = client.register_script(_source("sweep_statuses"))
