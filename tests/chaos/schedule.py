"""The seeded chaos schedule: what goes wrong when (pure; the same seed, the same plan).

Four kinds of disruption, at seeded moments inside the chaos window:
- kill: SIGKILL one ftwatch process, restart it after `down` seconds, under the same
  replica name (a restarted pod of a StatefulSet) or a new one (a Deployment's new pod);
- redis: SIGKILL redis-server, start it again `down` seconds later (AOF keeps the data);
- upstream: the simulator answers with a fault mix (5xx, 429 + Retry-After, latency,
  truncated bodies) for `down` seconds;
- receiver: the webhook receiver answers 500/503/429 or too slowly for `down` seconds.

Receiver outages last 3-8 s, 10 s apart: with the chaos env's retry schedule
(FTWATCH_WEBHOOK_RETRY_DELAYS, 0.5 s to 3 s apart) a notice sent into one fails
several times and is delivered once the outage ends.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

DisruptionKind = Literal["kill", "redis", "upstream", "receiver"]
ReceiverMode = Literal["500", "503", "429", "slow"]


@dataclass(frozen=True)
class Disruption:
    """One thing that goes wrong at `at` seconds into the chaos window, for `down` seconds."""

    at: float
    kind: DisruptionKind
    down: float
    target: str = ""  # kill: the process; receiver: the mode
    same_name: bool = True  # kill: restart under the same replica name
    faults: dict[str, Any] = field(default_factory=dict)  # upstream: the simulator's faults

    def describe(self) -> str:
        what = {
            "kill": f"kill {self.target} ({'same' if self.same_name else 'new'} name)",
            "redis": "restart redis",
            "upstream": f"upstream faults {self.faults}",
            "receiver": f"receiver answers {self.target}",
        }[self.kind]
        return f"t+{self.at:5.1f}s {what} for {self.down:.1f}s"


@dataclass(frozen=True)
class Plan:
    """Every disruption of one run, in time order."""

    seed: int
    window: float
    disruptions: list[Disruption]

    def count(self) -> Counter[str]:
        return Counter(d.kind for d in self.disruptions)


def _spaced(rng: random.Random, n: int, start: float, end: float, gap: float) -> list[float]:
    """`n` moments in [start, end], at least `gap` apart (evenly split slots, jittered)."""
    slot = (end - start) / n
    assert slot >= gap, "window too short for the spacing"
    return [round(start + i * slot + rng.uniform(0, slot - gap), 2) for i in range(n)]


def _count(base: int, intensity: float) -> int:
    return max(1, round(base * intensity))


def _upstream_faults(rng: random.Random, seed: int) -> dict[str, Any]:
    """A fault mix: always some 5xx, often 429s, latency and truncated bodies."""
    faults: dict[str, Any] = {
        "error_rate_5xx": round(rng.uniform(0.1, 0.3), 2),
        "seed": seed,
    }
    if rng.random() < 0.7:
        # Each 429 holds every call of a replica for Retry-After (1 s): keep them rare.
        faults |= {"rate_429": round(rng.uniform(0.01, 0.04), 3), "retry_after_s": 1}
    if rng.random() < 0.6:
        faults |= {"latency_ms": rng.choice([20, 50, 100]), "latency_jitter_ms": 100}
    if rng.random() < 0.6:
        faults |= {"truncate_rate": round(rng.uniform(0.03, 0.1), 2)}
    return faults


def build_plan(
    seed: int, processes: list[str], window: float = 30.0, intensity: float = 1.0
) -> Plan:
    """The disruptions of one run over `window` seconds, against the named processes.

    `intensity` scales how many kills, Redis restarts and upstream fault windows there
    are (6, 2 and 3 at 1.0); receiver outages stay 2 (they need 10 s between them).
    """
    rng = random.Random(seed)
    plan: list[Disruption] = []
    # The API replica does nothing the judged records depend on: kill the others.
    targets = [name for name in processes if name != "api"]
    kills, restarts, windows = (_count(n, intensity) for n in (6, 2, 3))
    for at in _spaced(rng, kills, 2.0, window - 2.0, min(2.0, (window - 4) / kills)):
        target = rng.choice(targets)
        down = round(rng.uniform(0.3, 3.0), 2)
        plan.append(Disruption(at, "kill", down, target, same_name=rng.random() < 0.5))
    for at in _spaced(rng, restarts, 4.0, window - 2.0, min(6.0, (window - 6) / restarts)):
        plan.append(Disruption(at, "redis", round(rng.uniform(0.2, 1.5), 2)))
    gap = min(5.0, (window - 3) / windows)
    for index, at in enumerate(_spaced(rng, windows, 1.0, window - 2.0, gap)):
        faults = _upstream_faults(rng, seed * 10 + index)
        plan.append(Disruption(at, "upstream", round(rng.uniform(2.0, 5.0), 2), faults=faults))
    modes: list[ReceiverMode] = ["500", "503", "429", "slow"]
    for at in _spaced(rng, 2, 3.0, window - 2.0, 10.0):
        down = round(rng.uniform(3.0, 8.0), 2)  # several of the chaos schedule's retries
        plan.append(Disruption(at, "receiver", down, rng.choice(modes)))
    return Plan(seed, window, sorted(plan, key=lambda d: d.at))
