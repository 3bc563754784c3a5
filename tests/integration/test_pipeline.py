"""End to end on the demo scenario: each job handled as the rules say, exactly once."""

from __future__ import annotations

from tests.integration.conftest import Pipeline
from tests.support import eventually

PLATEAU = "ftjob-demo-rft-plateau"
GRADER = "ftjob-demo-rft-grader-errors"
HEALTHY = "ftjob-demo-sft-succeeds"
DIVERGES = "ftjob-demo-sft-diverges"


async def test_each_demo_job_is_handled_once(pipeline: Pipeline) -> None:
    async def settled() -> bool:
        return (
            await pipeline.job_status(HEALTHY) == "succeeded"
            and await pipeline.job_status(GRADER) in {"succeeded", "failed"}
            and await pipeline.job_status(DIVERGES) == "cancelled"
            and await pipeline.job_status(PLATEAU) == "paused"
        )

    await eventually(settled, timeout=40, interval=0.2, message="demo jobs did not settle")
    assert await pipeline.sim_actions(PLATEAU) == ["pause"]
    assert await pipeline.sim_actions(GRADER) == ["pause", "resume"]
    assert await pipeline.sim_actions(DIVERGES) == ["cancel"]
    assert await pipeline.sim_actions(HEALTHY) == []

    async def finished_recorded() -> set[str]:
        firings = await pipeline.firings()
        done = {f.job.id for f in firings if f.rule == "finished"}
        return done if {HEALTHY, GRADER, DIVERGES} <= done else set()

    await eventually(finished_recorded, timeout=10, message="completion not recorded")
    firings = await pipeline.firings()
    plateau = [f for f in firings if f.rule == "reward-plateau" and not f.actions[0].at]
    assert len(plateau) == 1
    assert plateau[0].job.id == PLATEAU
    assert "has not improved on" in plateau[0].reason
    assert plateau[0].best is not None and plateau[0].best_step is not None
