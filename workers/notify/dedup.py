"""Keys that tie a receiver's notifications of one (job, rule) together."""

from __future__ import annotations

import hashlib


def pagerduty_dedup_key(job_key: str, rule: str) -> str:
    """PagerDuty `dedup_key` of one (job, rule): the same for every episode, so resolve matches."""
    # NUL cannot occur in either part's meaning, so ("a", "bc") never collides with ("ab", "c").
    digest = hashlib.sha256(f"{job_key}\x00{rule}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"ftwatch-{digest[:40]}"
