"""The processes under chaos: ftwatch replicas by topology, and the disruptions applied to them.

Topologies: `replicas` (two `ftwatch run --role all`) and `split` (two pollers, two
workers, one API), as a Kubernetes deployment would run them.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from simulator.faults import Faults
from simulator.routes_api import SimState
from tests.chaos.receiver import ChaosReceiver
from tests.chaos.schedule import Disruption
from tests.ha import SentinelSet
from tests.support import FtwatchProcess, RedisServer

Topology = Literal["replicas", "split"]
ROLES: dict[Topology, dict[str, str]] = {
    "replicas": {"all-a": "all", "all-b": "all"},
    "split": {
        "poller-a": "poller",
        "poller-b": "poller",
        "worker-a": "worker",
        "worker-b": "worker",
        "api": "api",
    },
}


def chaos_env(redis_url: str, sim_url: str, rules_path: Path, secret: str) -> dict[str, str]:
    """Every replica's environment: fast polls, quick reclaims, the chaos rules file."""
    return {
        "FTWATCH_REDIS_URL": redis_url,
        "OPENAI_BASE_URL": f"{sim_url}/v1",
        "OPENAI_API_KEY": "sk-chaos",
        "FTWATCH_RULES": str(rules_path),
        "CHAOS_OPS_SECRET": secret,
        # 1 s, the shortest at which the cadence model times polls (upstream stamps are
        # whole seconds): the chaos also moves, restarts and resumes predicted schedules.
        "FTWATCH_POLL_INTERVAL": "1",
        "FTWATCH_IDLE_POLL_FACTOR": "2",
        "FTWATCH_DISCOVERY_INTERVAL": "1",
        # Handlers take milliseconds; a dead replica's entries move within 2 s (actions 4 s).
        "FTWATCH_CLAIM_IDLE_SECONDS": "2",
        "FTWATCH_RULE_TICK_INTERVAL": "1",
        "FTWATCH_UPSTREAM_TIMEOUT": "5",
        # Retries every few seconds, nine attempts over ~19 s: a notice outlives any
        # receiver outage of the plan (up to 8 s) and still settles within the run.
        "FTWATCH_WEBHOOK_RETRY_DELAYS": "0.5s,1s,2s,3s,3s,3s,3s,3s",
        "FTWATCH_LOG_LEVEL": "info",
    }


@dataclass
class Replica:
    """One process slot (a pod): restarted under its own name or a new one."""

    slot: str
    role: str
    env: dict[str, str]
    logs: Path
    generation: int = 0
    proc: FtwatchProcess | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def name(self) -> str:
        return self.slot if self.generation == 0 else f"{self.slot}-g{self.generation}"

    def start(self, *, new_name: bool = False) -> None:
        if new_name:
            self.generation += 1
        env = {**self.env, "FTWATCH_REPLICA_NAME": self.name}
        if self.proc is None or new_name:
            self.proc = FtwatchProcess(env, self.logs / f"{self.name}.log", role=self.role)
        self.proc.start()

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()


@dataclass
class Cluster:
    """Redis, the ftwatch replicas, the simulator's fault switch and the receiver."""

    redis: RedisServer | SentinelSet
    sim: SimState
    receiver: ChaosReceiver
    replicas: dict[str, Replica]
    done: Counter[str] = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)
    _started: float = field(default_factory=time.monotonic)
    _fault_windows: list[dict[str, Any]] = field(default_factory=list)

    def start_all(self) -> None:
        for replica in self.replicas.values():
            replica.start()

    async def wait_healthy(self) -> None:
        for replica in self.replicas.values():
            assert replica.proc is not None
            await replica.proc.wait_healthy(timeout=30)

    def kill_all(self) -> None:
        for replica in self.replicas.values():
            replica.kill()

    async def apply(self, item: Disruption) -> None:
        """Carry out one disruption, including its end (restart, faults off, ...)."""
        self._note(item.describe())
        if item.kind == "kill":
            await self._kill(self.replicas[item.target], item.down, item.same_name)
        elif item.kind == "redis":
            await self._redis_down(item.down)
        elif item.kind == "upstream":
            await self._upstream_faults(item)
        else:
            self.receiver.mode = item.target
            await asyncio.sleep(item.down)
            self.receiver.mode = None
        self.done[item.kind] += 1
        self._note(f"end of: {item.describe()}")

    async def _redis_down(self, down: float) -> None:
        # One redis-server is restarted (AOF keeps the data); a Sentinel set fails over.
        # Planned failovers only: a killed primary stops writes for the sentinels'
        # down-after plus an election (~10 s), in which this fleet's short jobs end
        # unwatched; tests/integration/test_pipeline_sentinel.py kills one instead.
        if isinstance(self.redis, SentinelSet):
            await self.redis.disrupt()
            self._note("sentinel: SENTINEL FAILOVER done")
            return
        await asyncio.to_thread(self.redis.kill)
        await asyncio.sleep(down)
        await asyncio.to_thread(self.redis.start)

    async def _upstream_faults(self, item: Disruption) -> None:
        # Windows may overlap: the latest one started is in force until it ends.
        self._fault_windows.append(item.faults)
        self.sim.faults.set(Faults.model_validate(item.faults))
        await asyncio.sleep(item.down)
        self._fault_windows.remove(item.faults)
        latest = self._fault_windows[-1] if self._fault_windows else {}
        self.sim.faults.set(Faults.model_validate(latest))

    async def _kill(self, replica: Replica, down: float, same_name: bool) -> None:
        # One disruption per slot at a time: a second kill waits for the restart.
        async with replica.lock:
            await asyncio.to_thread(replica.kill)
            self.done[f"kill:{replica.role}"] += 1
            await asyncio.sleep(down)
            replica.start(new_name=not same_name)
            self.done["restart"] += 1

    def _note(self, text: str) -> None:
        self.log.append(f"{time.monotonic() - self._started:6.1f}s {text}")
