"""The pure engine on an injected clock: timelines, actions, events, checkpoints, controls."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from simulator.curves import Curve
from simulator.errors import ApiError
from simulator.payloads import burst
from simulator.platform import ManualClock, Platform
from simulator.scenario import GraderErrorBurst, GraderSpec, JobSpec, Scenario

SFT = JobSpec(id="ftjob-sft", step_period=1.0, total_steps=10, eval_interval=5, start_after=2.0)
RFT = JobSpec(
    id="ftjob-rft",
    method="reinforcement",
    step_period=1.0,
    total_steps=12,
    eval_interval=3,
    start_after=2.0,
    resume_delay=1.0,
    graders=[GraderSpec(name="format", type="python"), GraderSpec(name="judge")],
    grader_errors=[GraderErrorBurst(grader="format", from_step=4, to_step=6, rate=0.4)],
)


def make(clock: ManualClock, *jobs: JobSpec) -> Platform:
    return Platform(Scenario(jobs=list(jobs)), now=clock.now, wall=clock.wall)


def metrics(platform: Platform, job_id: str) -> list[dict[str, Any]]:
    """The data of the job's metrics events, oldest first."""
    events = reversed(platform.events(job_id))
    return [e["data"] for e in events if isinstance(e, dict) and e.get("type") == "metrics"]


def test_status_timeline_from_validation_to_success(clock: ManualClock) -> None:
    platform = make(clock, SFT)
    seen = [platform.get_job("ftjob-sft")["status"]]
    for _ in range(13):
        clock.advance(1.0)
        seen.append(platform.get_job("ftjob-sft")["status"])
    assert seen[:4] == ["validating_files", "queued", "running", "running"]
    assert seen[-1] == "succeeded"
    job = platform.get_job("ftjob-sft")
    assert job["fine_tuned_model"].startswith("ft:") and job["finished_at"] is not None
    assert [d["step"] for d in metrics(platform, "ftjob-sft")] == list(range(1, 11))
    newest = platform.events("ftjob-sft")[0]
    assert newest == newest | {"type": "message", "data": None}
    assert newest["message"] == "The job has successfully completed"


def test_events_visible_at_their_due_time_even_when_read_late(clock: ManualClock) -> None:
    platform = make(clock, SFT)
    clock.advance(100.0)  # nobody looked for 100 s
    rows = [r for r in platform.visibility("ftjob-sft") if r["type"] == "metrics"]
    start = clock.wall_start
    assert [r["visible_at"] for r in rows] == [start + 2.0 + k for k in range(1, 11)]
    assert [r["created_at"] for r in rows] == [int(start + 2.0 + k) for k in range(1, 11)]
    first = rows[0]["id"]
    assert platform.visible_at(first)["visible_at"] == start + 3.0


def _step_durations(spec: JobSpec) -> list[float]:
    clock = ManualClock()
    platform = make(clock, spec)
    clock.advance(spec.start_after + spec.total_steps * spec.step_period * 2)
    rows = [r for r in platform.visibility(str(spec.id)) if r["type"] == "metrics"]
    times = [clock.wall_start + spec.start_after] + [r["visible_at"] for r in rows]
    return [b - a for a, b in itertools.pairwise(times)]


def test_step_jitter_varies_each_step_within_its_share_the_same_way_every_run() -> None:
    spec = SFT.model_copy(update={"step_period": 7.0, "step_jitter": 0.1, "total_steps": 40})
    steps = _step_durations(spec)
    assert len(steps) == 40
    assert all(6.3 - 1e-9 <= step <= 7.7 + 1e-9 for step in steps)
    assert max(steps) - min(steps) > 0.7  # they do vary
    assert _step_durations(spec) == steps
    assert _step_durations(spec.model_copy(update={"step_jitter": 0.0})) == [7.0] * 40


def test_paused_job_stands_still_and_resume_continues(clock: ManualClock) -> None:
    platform = make(clock, RFT)
    clock.advance(2.0 + 5.0)
    assert platform.pause("ftjob-rft")["status"] == "paused"
    events_at_pause = len(platform.events("ftjob-rft"))
    clock.advance(500.0)
    job = platform.get_job("ftjob-rft")
    assert job["status"] == "paused" and job["estimated_finish"] is None
    assert len(platform.events("ftjob-rft")) == events_at_pause
    assert platform.resume("ftjob-rft")["status"] == "queued"  # OpenAI's documented answer
    clock.advance(1.0)
    assert platform.get_job("ftjob-rft")["status"] == "running"
    clock.advance(1.0)
    assert [d["step"] for d in metrics(platform, "ftjob-rft")] == [1, 2, 3, 4, 5, 6]
    clock.advance(6.0)
    assert platform.get_job("ftjob-rft")["status"] == "succeeded"


def test_pause_takes_a_snapshot_checkpoint_at_the_current_step(clock: ManualClock) -> None:
    platform = make(clock, RFT)
    clock.advance(2.0 + 4.0)
    platform.pause("ftjob-rft")
    checkpoints, _ = platform.list_checkpoints("ftjob-rft")
    assert [c["step_number"] for c in checkpoints] == [4, 3]  # newest first
    assert checkpoints[0]["fine_tuned_model_checkpoint"].endswith(":ckpt-step-4")


def test_actions_in_the_wrong_state_are_400_and_recorded(clock: ManualClock) -> None:
    platform = make(clock, SFT)
    with pytest.raises(ApiError) as paused:
        platform.pause("ftjob-sft")  # still validating_files
    with pytest.raises(ApiError) as resumed:
        platform.resume("ftjob-sft")
    assert paused.value.status == resumed.value.status == 400
    assert platform.cancel("ftjob-sft")["status"] == "cancelled"
    clock.advance(50.0)
    assert platform.get_job("ftjob-sft")["status"] == "cancelled"
    assert not metrics(platform, "ftjob-sft")
    with pytest.raises(ApiError) as again:
        platform.cancel("ftjob-sft")
    assert again.value.status == 400
    with pytest.raises(ApiError) as missing:
        platform.pause("ftjob-nope")
    assert missing.value.status == 404
    outcomes = [(a.action, a.outcome, a.http_status, a.status) for a in platform.actions]
    assert outcomes == [
        ("pause", "error", 400, None),
        ("resume", "error", 400, None),
        ("cancel", "ok", 200, "cancelled"),
        ("cancel", "error", 400, None),
        ("pause", "error", 404, None),
    ]


def test_rft_shapes_eval_steps_and_grader_error_bursts(clock: ManualClock) -> None:
    platform = make(clock, RFT)
    clock.advance(20.0)
    data = {d["step"]: d for d in metrics(platform, "ftjob-rft")}
    assert all(d["total_steps"] == 12 for d in data.values())
    evals = [s for s, d in data.items() if "valid_reward_mean" in d["scores"]]
    assert evals == [3, 6, 9, 12]
    for step, item in data.items():
        errors = {g["name"]: g for g in item["errors"]["graders"]}
        assert set(errors) == {"format", "judge"}
        expected = 0.4 if 4 <= step <= 6 else 0.0
        assert errors["format"]["train_other_error_mean"] == expected
        assert errors["format"]["train_other_error_count"] == round(expected * 32)
        assert errors["judge"]["train_other_error_mean"] == 0.0
        keys = {k for k in errors["format"] if k.endswith(("_mean", "_count"))}
        assert len(keys) == (12 if step in evals else 6)


def test_curves_drive_plateau_and_divergence_to_failure(clock: ManualClock) -> None:
    plateau = Curve(kind="plateau", start=0.3, end=0.6, plateau_at=4)
    diverge = Curve(kind="diverge", start=2.0, end=1.0, diverge_at=3, growth=2.0, nan_at=9)
    rft = JobSpec(
        id="a",
        method="reinforcement",
        start_after=0,
        total_steps=8,
        eval_interval=1,
        metrics={"valid_reward_mean": plateau},
    )
    sft = JobSpec(
        id="b",
        start_after=0,
        total_steps=10,
        final_status="failed",
        stop_at_step=9,
        metrics={"train_loss": diverge},
    )
    platform = make(clock, rft, sft)
    clock.advance(20.0)
    rewards = [d["scores"]["valid_reward_mean"] for d in metrics(platform, "a")]
    assert rewards[3:] == [0.6] * 5 and rewards[0] < rewards[3]
    losses = [d["train_loss"] for d in metrics(platform, "b")]
    assert losses[5] > 5.0 and math.isnan(losses[8])
    job = platform.get_job("b")
    assert job["status"] == "failed" and job["error"]["code"] == "internal_error"
    assert platform.events("b")[0]["level"] == "error"


def test_injected_raw_events_and_bursts_of_steps(clock: ManualClock) -> None:
    big = JobSpec(id="big", start_after=0.0, total_steps=400, eval_interval=1000)
    platform = make(clock, big)
    odd: list[Any] = [
        {"message": "no id"},
        {"id": 7, "data": "x"},
        "not an object",
        {"id": "ftevent-custom", "data": None, "message": "m" * 100_000},
    ]
    assert platform.inject_events("big", odd) == [None, 7, None, "ftevent-custom"]
    assert platform.events("big")[:4] == odd[::-1]
    assert platform.fast_forward("big", steps=250) == 250
    assert [d["step"] for d in metrics(platform, "big")] == list(range(1, 251))
    page, more = platform.list_events("big", after="ftevent-custom", limit=5)
    assert more and page[:3] == odd[2::-1]


def test_forced_status_holds_the_job_until_running_again(clock: ManualClock) -> None:
    platform = make(clock, SFT)
    clock.advance(4.0)
    assert platform.set_status("ftjob-sft", "pausing")["status"] == "pausing"
    clock.advance(30.0)
    assert platform.get_job("ftjob-sft")["status"] == "pausing"
    with pytest.raises(ApiError):
        platform.pause("ftjob-sft")
    platform.set_status("ftjob-sft", "running")
    clock.advance(8.0)
    assert platform.get_job("ftjob-sft")["status"] == "succeeded"


def test_elapsed_jobs_are_backdated_and_lists_page_newest_first(clock: ManualClock) -> None:
    old = JobSpec(id="old", elapsed=100.0, metadata={"team": "a"})
    live = JobSpec(id="live", metadata={"team": "b"})
    bare = JobSpec(id="bare")
    platform = make(clock, old, live, bare)
    assert platform.get_job("old")["status"] == "succeeded"
    assert platform.get_job("old")["created_at"] == int(clock.wall_start - 100)
    first, more = platform.list_jobs(limit=2)
    assert [j["id"] for j in first] == ["bare", "live"] and more
    rest, more = platform.list_jobs(after="live", limit=2)
    assert [j["id"] for j in rest] == ["old"] and not more
    team_a, _ = platform.list_jobs(metadata={"team": "a"})
    without, _ = platform.list_jobs(metadata_null=True)
    assert [j["id"] for j in team_a] == ["old"] and [j["id"] for j in without] == ["bare"]
    added = platform.add_job(JobSpec())
    assert added["id"].startswith("ftjob-") and platform.job_ids()[-1] == added["id"]


def test_a_burst_fixed_on_pause_ends_when_the_job_is_paused() -> None:
    spec = JobSpec(
        id="ftjob-x",
        method="reinforcement",
        graders=[GraderSpec(name="g", type="python")],
        grader_errors=[
            GraderErrorBurst(grader="g", from_step=6, to_step=13, rate=0.6, fixed_on_pause=True)
        ],
    )
    assert burst(spec, "g", 9)[0] == 0.6
    assert burst(spec, "g", 9, paused_at=[8])[0] == 0.0
    assert burst(spec, "g", 8, paused_at=[8])[0] == 0.6
    assert burst(spec, "g", 12, paused_at=[20])[0] == 0.6
