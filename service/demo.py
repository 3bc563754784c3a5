"""`ftwatch demo`: a private Redis, the simulator's four scripted jobs and the service.

Prints, one line each, what ftwatch sees (steps, status changes) and what it does
(firings and their actions); exits 0 once every job is finished or left paused by a
rule with nothing more scheduled, 1 if that takes longer than DEMO_TIMEOUT.
"""

from __future__ import annotations

import asyncio
import os
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
from service.demo_receiver import DemoReceiver, new_secret
from service.models.lifecycle import Status, from_openai, is_paused, is_terminal
from service.serve import serve, stop_on_signals
from service.settings import Settings
from service.store import keys as store_keys
from simulator.app import create_app as create_simulator
from simulator.presets import default_scenario
from workers.rules.config import RulesFile
from workers.rules.loading import parse_rules_text

# Seconds the demo may take: the script itself needs about 30 s.
DEMO_TIMEOUT = 120.0
# The variable demo_rules.yaml names for its receiver's secret.
SECRET_ENV = "DEMO_WEBHOOK_SECRET"


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
    started = time.monotonic()
    receiver = DemoReceiver(new_secret(), out)
    side_stop, app_stop = asyncio.Event(), asyncio.Event()
    sim_task, sim_port = await _start(create_simulator(default_scenario()), side_stop)
    hook_task, hook_port = await _start(receiver.app(), side_stop)
    # The receiver's secret reaches the service as a team's would: through the variable
    # the rules file names (never the file itself).
    os.environ[SECRET_ENV] = receiver.secret
    rules = demo_rules(f"http://127.0.0.1:{hook_port}/hook")
    app = create_app(_settings(settings, workdir, sim_port), role="all", rules=rules)
    try:
        app_task, app_port = await _start(app, app_stop)
    except BaseException:
        side_stop.set()
        await asyncio.gather(sim_task, hook_task, return_exceptions=True)
        raise
    out.write(intro(rules, sim_port=sim_port, app_port=app_port, hook_port=hook_port))
    sim_url = f"http://127.0.0.1:{sim_port}"
    try:
        return await _watch(app[keys.REDIS], sim_url, stop, out, receiver=receiver, started=started)
    finally:
        app_stop.set()
        side_stop.set()
        await asyncio.gather(app_task, sim_task, hook_task, return_exceptions=True)


def _settings(settings: Settings, workdir: Path, sim_port: int) -> Settings:
    """The service's settings for the demo: its own Redis, the simulator, short intervals."""
    return settings.model_copy(
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


def demo_rules(receiver_url: str) -> RulesFile:
    """The demo's rules file, its receiver pointed at the demo's own."""
    text = (files("service") / "demo_rules.yaml").read_text(encoding="utf-8")
    return parse_rules_text(text.replace("{receiver_url}", receiver_url))


def intro(rules: RulesFile, *, sim_port: int, app_port: int, hook_port: int) -> str:
    """What the demo runs and with which rules, before anything happens."""
    lines = [
        f"ftwatch demo: four scripted jobs on a simulated OpenAI API (127.0.0.1:{sim_port}),",
        "watched with the demo's rules (service/demo_rules.yaml; `ftwatch run` reads",
        "FTWATCH_RULES, else built-in defaults like these with longer patience):",
    ]
    width = max(len(rule.name) for rule in rules.rules)
    for rule in rules.rules:
        actions = ", ".join(rule.describe_actions())
        lines.append(f"  {rule.name.ljust(width)}  {rule.kind:<11} → {actions}")
    lines += [
        f"Notifications go to the demo's own webhook receiver (127.0.0.1:{hook_port}/hook),",
        "which checks each signature. While the demo runs, the service answers on",
        f"http://127.0.0.1:{app_port} (/metrics, /v1/jobs); it stops with the demo.",
        "",
    ]
    return "\n".join(lines) + "\n"


async def _start(app: web.Application, stop: asyncio.Event) -> tuple[asyncio.Task[int], int]:
    """Serve `app` on a free loopback port in the background; returns the task and port."""
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(app, "127.0.0.1", 0, stop, on_start=started.set_result))
    done, _ = await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    if started not in done:
        await task  # it failed to start: raise its error
    return task, started.result()


async def _watch(
    redis: aioredis.Redis,
    sim_url: str,
    stop: asyncio.Event,
    out: TextIO,
    *,
    receiver: DemoReceiver,
    started: float,
) -> int:
    printer = DemoPrinter(redis, out)
    deadline = time.monotonic() + DEMO_TIMEOUT
    async with aiohttp.ClientSession() as http:
        while not stop.is_set() and time.monotonic() < deadline:
            await printer.print_new()
            statuses = await _statuses(http, sim_url)
            if _settled(statuses) and await _nothing_delayed(redis) and await printer.idle():
                await printer.print_new()
                seconds = time.monotonic() - started
                out.write(printer.summary(statuses, len(receiver.received), seconds))
                return 0
            await asyncio.sleep(0.2)
    out.write("ftwatch demo: stopped before the script was done\n")
    return 1


async def _statuses(http: aiohttp.ClientSession, sim_url: str) -> dict[str, Status]:
    """Each job's status upstream, in ftwatch's words."""
    async with http.get(f"{sim_url}/_sim/jobs") as resp:
        jobs: dict[str, Any] = await resp.json()
    return {job["id"]: from_openai(job["status"]) for job in jobs["data"]}


def _settled(statuses: dict[str, Status]) -> bool:
    """Every job finished or paused."""
    return all(is_terminal(s) or is_paused(s) for s in statuses.values())


async def _nothing_delayed(redis: aioredis.Redis) -> bool:
    """No delayed action (a scheduled resume) left to run."""
    return int(await redis.zcard(store_keys.DELAYED)) == 0
