"""Rules, secrets and a fast retry schedule for the delivery tests (and their child process)."""

from __future__ import annotations

from typing import Any

from tests.notify.webhook_receiver import SECRET
from workers.notify.delivery_policy import RetrySchedule
from workers.notify.worker import DeliveryConfig
from workers.rules.config import RulesFile
from workers.rules.loading import parse_rules

# Retries in tens of milliseconds: four attempts take a fraction of a second.
FAST = DeliveryConfig(
    schedule=RetrySchedule(delays=(0.05, 0.05, 0.05), jitter=0.0),
    poll_seconds=0.05,
    lease_margin_seconds=0.5,
    claim_idle_ms=500,
)


def rules_with(*receivers: dict[str, Any]) -> RulesFile:
    """A rules file declaring `receivers` (one rule notifies each, so the file is valid)."""
    names = [r["name"] for r in receivers]
    rule = {
        "name": "r",
        "when": {"stalled": {"for": "30m"}},
        "do": [{"notify": n} for n in [*names, "log"]],
    }
    return parse_rules({"receivers": list(receivers), "rules": [rule]})


def receiver(name: str, url: str, **extra: Any) -> dict[str, Any]:
    """A standard receiver signing with SECRET (from the env variable SECRET_<NAME>)."""
    return {"name": name, "url": url, "secret_env": f"SECRET_{name.upper()}", "timeout": 2, **extra}


def environ_for(rules: RulesFile, secret: str = SECRET) -> dict[str, str]:
    return {r.secret_env: secret for r in rules.receivers if r.secret_env}
