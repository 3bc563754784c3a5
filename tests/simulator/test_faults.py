"""The fault injector's draws: shares, reproducibility, the kinds of errors."""

from __future__ import annotations

from collections import Counter

from simulator.faults import FaultInjector, Faults


def draws(faults: Faults, n: int = 2000) -> Counter[int]:
    injector = FaultInjector(faults)
    return Counter(error.status if (error := injector.error()) else 200 for _ in range(n))


def test_shares_are_honoured_and_reproducible() -> None:
    faults = Faults(error_rate_5xx=0.2, rate_429=0.1, seed=1)
    counts = draws(faults)
    assert counts == draws(faults)
    server = counts[500] + counts[502] + counts[503]
    assert 340 < server < 460 and 140 < counts[429] < 260
    assert draws(Faults()) == Counter({200: 2000})


def test_429_kinds_and_truncation() -> None:
    limited = FaultInjector(Faults(rate_429=1.0, retry_after_s=4)).error()
    assert limited is not None and limited.headers == {"Retry-After": "4"}
    assert limited.envelope()["error"]["code"] == "rate_limit_exceeded"
    quota = FaultInjector(Faults(insufficient_quota=True)).error()
    assert quota is not None and quota.status == 429 and not quota.headers
    assert quota.envelope()["error"]["type"] == "insufficient_quota"
    injector = FaultInjector(Faults(truncate_rate=1.0, latency_ms=20, latency_jitter_ms=10))
    assert injector.truncate() and 0.02 <= injector.delay_s() <= 0.03
    assert injector.injected["truncated"] == 1
