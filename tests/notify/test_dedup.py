"""PagerDuty dedup keys: one per (job, rule), whatever the episode."""

from __future__ import annotations

from workers.notify.dedup import pagerduty_dedup_key


def test_same_job_and_rule_give_the_same_key() -> None:
    assert pagerduty_dedup_key("ftjob-abc", "plateau") == pagerduty_dedup_key(
        "ftjob-abc", "plateau"
    )


def test_keys_do_not_collide_across_the_boundary_of_job_and_rule() -> None:
    assert pagerduty_dedup_key("ftjob-a", "bc") != pagerduty_dedup_key("ftjob-ab", "c")
    assert pagerduty_dedup_key("ftjob-a", "x") != pagerduty_dedup_key("ftjob-b", "x")


def test_keys_fit_pagerduty_and_survive_odd_text() -> None:
    key = pagerduty_dedup_key("ftjob-" + "é" * 500, "rule\ud800")
    assert key.startswith("ftwatch-")
    assert len(key) <= 255
    assert key.isascii()
