"""Keys that tie a receiver's notifications of one (job, rule) together. Pure."""

from __future__ import annotations

import hashlib

# PagerDuty refuses a longer dedup_key (Events API v2, 400 "invalid event").
DEDUP_KEY_MAX = 255
_DIGEST_CHARS = 16  # 64 bits of sha256: no collision among any account's jobs


def pagerduty_dedup_key(provider: str, job_id: str, rule: str) -> str:
    """`ftwatch:<provider>:<job_id>:<rule>`, the same for every episode so a resolve matches.

    Provider and rule names cannot hold `:`, so the key reads back unambiguously from both
    ends. A key past 255 characters (only a very long job id makes one) keeps its head and
    the rule, and replaces the end of the job id by `~` and a digest of the whole key: still
    one key per (job, rule), still readable, and the resolve computes the same one.
    """
    key = f"ftwatch:{provider}:{job_id}:{rule}"
    if len(key) <= DEDUP_KEY_MAX:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_CHARS]
    tail = f"~{digest}:{rule}"
    head = f"ftwatch:{provider}:{job_id}"[: DEDUP_KEY_MAX - len(tail)]
    return head + tail
