"""Scenario files: YAML/JSON loading, deterministic ids, errors with their location."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.scenario import ScenarioError, job_id_for, load_scenario

GOOD = """
seed: 3
faults: {rate_429: 0.1, retry_after_s: 2}
jobs:
  - method: reinforcement
    graders: [{name: judge}]
    grader_errors: [{grader: judge, from_step: 2, to_step: 4, rate: 0.5}]
    metrics: {valid_reward_mean: {kind: plateau, start: 0.2, end: 0.5, plateau_at: 5}}
  - id: ftjob-fixed
    metrics: {train_loss: 1.5}
"""


def test_yaml_and_json_load_with_deterministic_ids(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(GOOD, encoding="utf-8")
    scenario = load_scenario(path)
    assert [job.id for job in scenario.jobs] == [job_id_for(3, 0), "ftjob-fixed"]
    assert job_id_for(3, 0) == load_scenario(path).jobs[0].id
    assert scenario.faults.rate_429 == 0.1
    assert scenario.jobs[1].curve("train_loss").value(7, 10) == 1.5
    as_json = tmp_path / "s.json"
    as_json.write_text(json.dumps({"jobs": [{"id": "ftjob-j", "method": "dpo"}]}), "utf-8")
    assert load_scenario(as_json).jobs[0].method == "dpo"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("jobs: [{metrics: {train_loss: {kind: zigzag}}}]", "jobs[0].metrics.train_loss.kind:"),
        ("jobs: [{}, {total_steps: 0}]", "jobs[1].total_steps: Input should be greater"),
        ("jobs: [{metrics: {valid_reward_mean: 1}}]", "jobs[0].metrics.valid_reward_mean: not"),
        (
            "jobs: [{method: reinforcement, grader_errors: [{grader: x, from_step: 1, to_step: 2,"
            " rate: 0.1}]}]",
            "jobs[0].grader_errors: unknown grader 'x'",
        ),
        ("jobs: [{id: a}, {id: a}]", "jobs[1].id: duplicate job id 'a'"),
        ("jobs: [{final_status: succeeded, stop_at_step: 3}]", "jobs[0]: a succeeded job"),
        ("faults: {truncate_rate: 3}", "faults.truncate_rate: Input should be less"),
        ("jobs: [{colour: red}]", "jobs[0].colour: Extra inputs are not permitted"),
    ],
)
def test_invalid_scenarios_name_the_location(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_unparsable_files_say_so(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("jobs: [", encoding="utf-8")
    with pytest.raises(ScenarioError, match="cannot parse"):
        load_scenario(path)
