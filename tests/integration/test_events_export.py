"""`ftwatch events export` → `ftwatch rules backtest`: a recorded run replayed offline
makes the firings the live run made (issue 18)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import redis.asyncio as aioredis

from service.settings import Settings
from tests.api.conftest import seed_job
from tests.integration.conftest import FAST_RULES, Pipeline
from tests.integration.test_pipeline import DIVERGES, GRADER, HEALTHY, PLATEAU
from tests.support import eventually
from workers.rules.backtest import backtest
from workers.rules.events_file import load_events_text
from workers.rules.loading import parse_rules_text

T0 = 1_700_000_000  # seed_job's first event time


def ftwatch(
    *args: str, redis_url: str, stdout: int | None = subprocess.PIPE
) -> subprocess.Popen[str]:
    env = {"FTWATCH_REDIS_URL": redis_url, "PATH": "/usr/bin:/bin"}
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def run(*args: str, redis_url: str) -> tuple[int, str, str]:
    proc = ftwatch(*args, redis_url=redis_url)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


async def settled(pipeline: Pipeline) -> None:
    async def done() -> bool:
        firings = await pipeline.firings()
        finished = {f.job.id for f in firings if f.rule == "finished"}
        # Every job finished or paused for good: nothing fires after the export.
        return {HEALTHY, DIVERGES, GRADER} <= finished and (
            await pipeline.job_status(PLATEAU) == "paused"
        )

    await eventually(done, timeout=40, interval=0.2, message="the run did not settle")


async def test_an_exported_run_backtests_to_the_live_firings(
    pipeline: Pipeline, settings: Settings, tmp_path: Path
) -> None:
    await settled(pipeline)
    url = settings.redis_url or ""
    code, out, err = await asyncio.to_thread(run, "events", "export", redis_url=url)
    assert code == 0, err
    assert err.strip() == f"ftwatch events export: {len(out.splitlines())} events"
    replayed = backtest(parse_rules_text(FAST_RULES), load_events_text(out).events)
    live = [f for f in await pipeline.firings() if f.stage == "fired"]
    assert {r.firing_id for r in replayed} == {f.firing_id for f in live}
    # The same file through the command a user runs.
    events, rules = tmp_path / "events.jsonl", tmp_path / "rules.yaml"
    events.write_text(out)
    rules.write_text(FAST_RULES)
    code, table, err = await asyncio.to_thread(
        run, "rules", "backtest", str(rules), "--events", str(events), redis_url=url
    )
    assert code == 0, err
    assert table.splitlines()[-1].startswith(f"{len(replayed)} firings over ")


async def test_export_picks_jobs_and_a_start_time(
    redis: aioredis.Redis, settings: Settings
) -> None:
    await seed_job(redis, "run-a", events=3, provider="ingest")
    await seed_job(redis, "run-a", events=2)  # openai's job of the same id
    await seed_job(redis, "run-b", events=2)
    url = settings.redis_url or ""

    def exported(*args: str) -> list[tuple[str, str, int]]:
        code, out, err = run("events", "export", *args, redis_url=url)
        assert code == 0, err
        return [
            (e["provider"], e["job_id"], e["created_at"]) for e in map(json.loads, out.splitlines())
        ]

    assert len(await asyncio.to_thread(exported)) == 7
    only = await asyncio.to_thread(exported, "ingest:run-a")
    assert only == [
        ("ingest", "run-a", T0),
        ("ingest", "run-a", T0 + 1),
        ("ingest", "run-a", T0 + 2),
    ]
    both = await asyncio.to_thread(exported, "run-a")
    assert {provider for provider, _, _ in both} == {"ingest", "openai"} and len(both) == 5
    later = await asyncio.to_thread(exported, "run-b", "--since", str(T0 + 1))
    assert later == [("openai", "run-b", T0 + 1)]
    code, _, err = await asyncio.to_thread(
        run, "events", "export", "--since", "soon", redis_url=url
    )
    assert code == 2
    assert err.startswith("ftwatch events export: --since 'soon': give a duration")


async def test_a_closed_pipe_is_no_error(redis: aioredis.Redis, settings: Settings) -> None:
    await seed_job(redis, "run-long", events=2000)
    proc = ftwatch("events", "export", redis_url=settings.redis_url or "")
    assert proc.stdout is not None and proc.stderr is not None
    first = await asyncio.to_thread(proc.stdout.readline)  # like `| head -1`
    proc.stdout.close()
    code = await asyncio.to_thread(proc.wait, 60)
    assert json.loads(first)["job_id"] == "run-long"
    assert code == 0
    with proc.stderr:
        assert "Traceback" not in proc.stderr.read()
