from __future__ import annotations

import math

from service.models.event import NormalizedEvent
from tests.rules.factories import T0, event, graders
from workers.rules.backtest import backtest, format_rows
from workers.rules.loading import default_rules


def history() -> list[NormalizedEvent]:
    """An RFT job that plateaus and whose grader fails, and an SFT job that diverges."""
    events: list[NormalizedEvent] = []
    rewards = [0.30, 0.45, 0.50, 0.505, 0.50, 0.49]
    for index, reward in enumerate(rewards):
        step = 10 * (index + 1)
        events.append(event(step, job="ftjob-rft", valid_reward_mean=reward))
        events.append(event(step + 1, job="ftjob-sft", method="supervised", train_loss=1.0 / step))
    for step in range(61, 66):
        events.append(graders(step, {"g": 0.4}, job="ftjob-rft"))
    events.append(event(66, job="ftjob-sft", method="supervised", train_loss=math.nan))
    # The RFT job then goes quiet for two hours before it finishes.
    events.append(event(None, job="ftjob-rft", at=T0 + 66 * 60 + 7200, status="succeeded"))
    return events


def test_the_backtest_lists_what_would_have_fired_when_and_why() -> None:
    rows = backtest(default_rules(), history())
    assert [(r.job_id, r.rule, r.step) for r in rows] == [
        ("ftjob-rft", "reward-plateau", 60),
        ("ftjob-rft", "grader-errors", 65),
        ("ftjob-sft", "loss-divergence", 66),
        ("ftjob-rft", "stalled", None),
        ("ftjob-rft", "finished", None),
    ]
    plateau, errors, divergence, stalled, finished = rows
    assert plateau.reason == (
        "valid_reward_mean 0.49 has not improved on 0.5 by 0.01 for 3 evaluations;"
        " best 0.505 at step 40"
    )
    assert (plateau.best, plateau.best_step) == (0.505, 40)
    assert plateau.actions == ["pause", "notify:log"]
    assert errors.reason == "grader error rate 0.4 (grader g) is above 0.25 over the last 5 steps"
    assert divergence.reason.startswith("train_loss nan is not finite at step 66")
    assert stalled.at == T0 + 65 * 60 + 3600  # an hour after the last event
    assert stalled.reason == "no new event for 1h while running (limit 1h)"
    assert finished.reason == "job status is succeeded"
    assert len({r.firing_id for r in rows}) == 5


def test_the_table_has_a_header_a_line_per_firing_and_a_summary() -> None:
    events = history()
    rows = backtest(default_rules(), events)
    text = format_rows(rows, len(events), 2)
    lines = text.splitlines()
    assert lines[0].split() == ["TIME", "(UTC)", "JOB", "RULE", "STEP", "ACTIONS", "REASON"]
    assert len(lines) == 1 + len(rows) + 1 + 2 + 1  # a blank line, one line a job, the sum
    assert lines[-3].startswith("openai:ftjob-rft: 4 firings (reward-plateau, grader-errors,")
    assert lines[-2].startswith("openai:ftjob-sft: 1 firing (loss-divergence), first ")
    assert (
        "ftjob-sft" in lines[3]
        and "loss-divergence" in lines[3]
        and "cancel, notify:log" in lines[3]
    )
    assert lines[-1] == f"5 firings over {len(events)} events of 2 jobs"
    assert format_rows([], 1, 1) == "no rule would have fired (1 event of 1 job)"


def test_firings_come_in_time_order_when_the_file_lists_job_after_job() -> None:
    events = history()
    by_job = sorted(events, key=lambda event: event.job_id != "ftjob-sft")  # sft first
    rows = backtest(default_rules(), by_job)
    assert [row.at for row in rows] == sorted(row.at for row in rows)
    assert {row.firing_id for row in rows} == {
        r.firing_id for r in backtest(default_rules(), events)
    }
