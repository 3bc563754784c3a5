"""The README's and docs' runnable blocks run (issue 18): each is marked
`<!-- test: KIND -->` on the line before it, and every KIND has a runner here."""

from __future__ import annotations

import io
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.support import FtwatchProcess, RedisServer, eventually, free_port
from workers.rules.cli import check_command

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"<!-- test: ([a-z-]+) -->\n```[a-z]*\n(.*?)```", re.S)


def blocks(kind: str) -> list[str]:
    return [text for page in PAGES for k, text in BLOCK.findall(page.read_text()) if k == kind]


def test_every_marked_block_has_a_runner() -> None:
    kinds = {k for page in PAGES for k, _ in BLOCK.findall(page.read_text())}
    assert kinds == {"rules-check", "quickstart"}


@pytest.mark.parametrize("text", blocks("rules-check"))
def test_the_config_example_passes_rules_check(text: str, tmp_path: Path) -> None:
    path = tmp_path / "ftwatch.yaml"
    path.write_text(text)
    out = io.StringIO()
    assert check_command(str(path), out) == 0, out.getvalue()


def quickstart_env(text: str, sim_port: int) -> dict[str, str]:
    """The variables the quickstart's `ftwatch run` line sets, at the simulator's port."""
    run = next(line for line in text.splitlines() if line.endswith("ftwatch run"))
    words = shlex.split(run.replace("8081", str(sim_port)))
    return dict(word.split("=", 1) for word in words if "=" in word)


@contextmanager
def simulator(port: int, log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "simulate", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.timeout(120)
async def test_the_quickstart_reaches_a_paused_job(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    (text,) = blocks("quickstart")
    port = free_port()
    env = quickstart_env(text, port) | {"FTWATCH_REDIS_URL": redis_server.url}
    with simulator(port, tmp_path / "sim.log"):
        service = FtwatchProcess(env, tmp_path / "run.log")
        service.start()
        try:
            await service.wait_healthy()
            async with aiohttp.ClientSession() as http:

                async def paused() -> bool:
                    url = f"http://127.0.0.1:{port}/_sim/jobs"
                    async with http.get(url) as resp:
                        jobs = (await resp.json())["data"]
                    return any(job["status"] == "paused" for job in jobs)

                await eventually(paused, timeout=90, interval=0.5, message="nothing paused")
        finally:
            service.terminate()
