"""When to try a webhook again, and when to give up. Pure.

Retried: timeouts, connection errors, 408, 429 and 5xx. Not retried: other 4xx (the
receiver refused the message itself; 410 Gone means the endpoint is gone) and 3xx
(redirects are not followed: a moved endpoint is a configuration error). Retry-After
is honoured as a lower bound, up to a cap.

The default schedule is that of Svix-style senders: seconds, then minutes, then hours —
5 s, 30 s, 2 m, 10 m, 30 m, 1 h, 3 h, 6 h (±20 % jitter), 9 attempts over about 10.7 h,
and never past `max_total` after the first attempt. FTWATCH_WEBHOOK_RETRY_DELAYS replaces
the delays (`RetrySchedule.with_delays`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from workers.notify.delivery import Attempt

Kind = Literal["ok", "retry", "fail"]
Verdict = Literal["delivered", "retry", "dead"]
# Formats that get resolve notices: PagerDuty and Alertmanager close what the trigger
# opened, Slack posts it as a message of its own (a channel reads "resolved" as a reply
# to the page it saw). A standard receiver's event types have no resolve: skipped.
RESOLVE_FORMATS = frozenset({"pagerduty", "alertmanager", "slack", "log"})


def wants(format: str, resolved: bool) -> bool:
    """Whether a receiver of `format` gets this notice at all."""
    return not resolved or format in RESOLVE_FORMATS


def classify(attempt: Attempt) -> Kind:
    """ok, retry (worth another try) or fail (no retry can help)."""
    if attempt.error is not None:
        return "fail" if attempt.permanent else "retry"
    status = attempt.status
    if status is None or 200 <= status < 300:
        return "ok"  # no status and no error: sent without HTTP (the log receiver)
    if status in (408, 429) or status >= 500:
        return "retry"
    return "fail"


@dataclass(frozen=True)
class RetrySchedule:
    """Delays between attempts; tests inject short ones."""

    delays: tuple[float, ...] = (5, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600)
    jitter: float = 0.2  # each delay is scaled by a factor in [1 - jitter, 1 + jitter]
    retry_after_cap: float = 3600.0  # a longer Retry-After is shortened to this
    max_total: float = 12 * 3600.0  # no attempt is scheduled later than this after the first

    @classmethod
    def with_delays(cls, delays: tuple[float, ...]) -> RetrySchedule:
        """The default schedule with other delays (FTWATCH_WEBHOOK_RETRY_DELAYS)."""
        # Jitter stretches the delays by up to 20 %; the other 5 % is for the attempts
        # themselves (up to the receiver's timeout) and the lanes' poll, so max_total does
        # not cut a long schedule short. Never below the default 12 h, so a short schedule
        # still honours a long Retry-After and slow attempts.
        return cls(delays=delays, max_total=max(cls.max_total, sum(delays) * 1.25))

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    def next_delay(
        self,
        failures: int,
        retry_after: float | None,
        elapsed: float,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds until the next attempt after `failures` failed ones; None: give up."""
        if failures < 1 or failures > len(self.delays):
            return None
        delay = self.delays[failures - 1] * (1 + self.jitter * (2 * rand() - 1))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.retry_after_cap))
        if elapsed + delay > self.max_total:
            return None
        return max(delay, 0.0)


@dataclass(frozen=True)
class Judgement:
    """What becomes of a delivery after its latest attempt."""

    verdict: Verdict
    delay: float = 0.0  # seconds until the retry
    reason: str = ""  # why it was given up (dead letters show it)


def describe(attempt: Attempt) -> str:
    """An attempt's result in words: `HTTP 503`, `timeout after 10s`."""
    if attempt.error is not None:
        return attempt.error
    return f"HTTP {attempt.status}" if attempt.status is not None else "sent"


def judge(
    attempts: tuple[Attempt, ...],
    since: float,
    schedule: RetrySchedule,
    rand: Callable[[], float] = random.random,
) -> Judgement:
    """Delivered, retry after a delay, or dead; `attempts` ends with the latest one."""
    latest = attempts[-1]
    kind = classify(latest)
    if kind == "ok":
        return Judgement("delivered")
    if kind == "fail":
        # The receiver's words say what to fix (PagerDuty: which field is invalid).
        said = f": {latest.detail}" if latest.detail else ""
        return Judgement("dead", reason=f"{describe(latest)} is not retried{said}")
    delay = schedule.next_delay(len(attempts), latest.retry_after, latest.at - since, rand)
    if delay is None:
        hours = (latest.at - since) / 3600
        return Judgement(
            "dead",
            reason=f"gave up after {len(attempts)} attempts over "
            f"{hours:.1f} h; last: {describe(latest)}",
        )
    return Judgement("retry", delay=delay)
