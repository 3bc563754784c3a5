"""PagerDuty dedup keys: `ftwatch:<provider>:<job_id>:<rule>`, one per (job, rule)."""

from __future__ import annotations

from workers.notify.dedup import DEDUP_KEY_MAX, pagerduty_dedup_key


def test_the_key_names_provider_job_and_rule() -> None:
    key = pagerduty_dedup_key("openai", "ftjob-abc", "plateau")
    assert key == "ftwatch:openai:ftjob-abc:plateau"
    assert key == pagerduty_dedup_key("openai", "ftjob-abc", "plateau")


def test_keys_do_not_collide_across_the_boundary_of_job_and_rule() -> None:
    # Rule and provider names cannot hold ':', so the job id is whatever lies between.
    assert pagerduty_dedup_key("p", "ftjob-a", "bc") != pagerduty_dedup_key("p", "ftjob-ab", "c")


def test_a_key_past_255_chars_keeps_its_head_and_rule_and_stays_unique() -> None:
    long_a, long_b = "ftjob-" + "a" * 400, "ftjob-" + "a" * 399 + "b"
    key_a = pagerduty_dedup_key("openai", long_a, "reward-plateau")
    key_b = pagerduty_dedup_key("openai", long_b, "reward-plateau")
    assert len(key_a) == len(key_b) == DEDUP_KEY_MAX
    assert key_a != key_b
    assert key_a.startswith("ftwatch:openai:ftjob-aaaa")
    assert key_a.endswith(":reward-plateau")
    assert key_a == pagerduty_dedup_key("openai", long_a, "reward-plateau")


def test_odd_text_still_makes_a_bounded_key() -> None:
    key = pagerduty_dedup_key("openai", "ftjob-" + "é" * 500, "rule\ud800")
    assert len(key) <= DEDUP_KEY_MAX
