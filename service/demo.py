"""`ftwatch demo`: a private Redis, the simulator's four scripted jobs and the service.

Prints, one line each, what ftwatch sees (steps, status changes) and what it does
(firings and their actions); exits 0 once every job is finished or left paused by a
rule with nothing more scheduled, 1 if that takes longer than DEMO_TIMEOUT.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from importlib.resources import files
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web
from pydantic import SecretStr

from service import keys
from service.app import create_app
from service.demo_output import DemoPrinter
from service.models.lifecycle import from_openai, is_paused, is_terminal
from service.serve import serve, stop_on_signals
from service.settings import Settings
from service.store import keys as store_keys
from simulator.app import create_app as create_simulator
from simulator.presets import default_scenario
from workers.rules.loading import parse_rules_text

# Seconds the demo may take: the script itself needs about 30 s.
DEMO_TIMEOUT = 120.0


async def run_demo(settings: Settings, out: TextIO = sys.stdout) -> int:
    """Run the demo end to end; returns the exit code."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # A fresh Redis per run, so the jobs of the previous demo are not "already seen".
    workdir = Path(tempfile.mkdtemp(prefix="demo-", dir=settings.data_dir))
    stop = asyncio.Event()
    stop_on_signals(stop)
    try:
        return await _run(settings, workdir, stop, out)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _run(settings: Settings, workdir: Path, stop: asyncio.Event, out: TextIO) -> int:
    sim_stop, app_stop = asyncio.Event(), asyncio.Event()
    sim_task, sim_port = await _start(create_simulator(default_scenario()), sim_stop)
    demo_settings = settings.model_copy(
        update={
            "redis_url": None,
            "data_dir": workdir,
            "jobs": None,
            "openai_base_url": f"http://127.0.0.1:{sim_port}/v1",
            "openai_api_key": SecretStr("sk-demo"),  # the simulator takes any key
            "poll_interval": 0.5,
            "rule_tick_interval": 0.5,
            "discovery_interval": 1.0,
        }
    )
    rules = parse_rules_text((files("service") / "demo_rules.yaml").read_text(encoding="utf-8"))
    app = create_app(demo_settings, role="all", rules=rules)
    try:
        app_task, app_port = await _start(app, app_stop)
    except BaseException:
        sim_stop.set()
        await sim_task
        raise
    out.write(
        f"ftwatch demo: simulator on 127.0.0.1:{sim_port}, "
        f"metrics on http://127.0.0.1:{app_port}/metrics\n"
    )
    try:
        return await _watch(app[keys.REDIS], f"http://127.0.0.1:{sim_port}", stop, out)
    finally:
        app_stop.set()
        sim_stop.set()
        await asyncio.gather(app_task, sim_task, return_exceptions=True)


async def _start(app: web.Application, stop: asyncio.Event) -> tuple[asyncio.Task[int], int]:
    """Serve `app` on a free loopback port in the background; returns the task and port."""
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(app, "127.0.0.1", 0, stop, on_start=started.set_result))
    done, _ = await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    if started not in done:
        await task  # it failed to start: raise its error
    return task, started.result()


async def _watch(redis: aioredis.Redis, sim_url: str, stop: asyncio.Event, out: TextIO) -> int:
    printer = DemoPrinter(redis, out)
    deadline = time.monotonic() + DEMO_TIMEOUT
    async with aiohttp.ClientSession() as http:
        while not stop.is_set() and time.monotonic() < deadline:
            await printer.print_new()
            if await _settled(redis, http, sim_url) and await printer.idle():
                await printer.print_new()
                out.write(printer.summary())
                return 0
            await asyncio.sleep(0.2)
    out.write("ftwatch demo: stopped before the script was done\n")
    return 1


async def _settled(redis: aioredis.Redis, http: aiohttp.ClientSession, sim_url: str) -> bool:
    """Every job finished or paused, and no delayed action left to run."""
    async with http.get(f"{sim_url}/_sim/jobs") as resp:
        jobs: dict[str, Any] = await resp.json()
    statuses = [from_openai(job["status"]) for job in jobs["data"]]
    if not all(is_terminal(s) or is_paused(s) for s in statuses):
        return False
    return int(await redis.zcard(store_keys.DELAYED)) == 0
