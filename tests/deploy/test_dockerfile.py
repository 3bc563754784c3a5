"""The Dockerfile: hadolint-clean, and its build replayed in a fresh venv, then run as the image.

No Docker engine here: the build stage's COPY/ENV/WORKDIR/RUN steps are replayed under a
temporary root (absolute paths mapped into it), and the final stage's ENTRYPOINT, CMD and
HEALTHCHECK run against the virtualenv they built.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.deploy.conftest import REPO, run, tool
from tests.support import RedisServer, eventually, free_port

DOCKERFILE = REPO / "Dockerfile"
# Absolute paths the build uses; the replay moves them under its temporary root.
IMAGE_PATHS = re.compile(r"(?<![\w./-])/(opt|src|var/lib)(?=/|\b)")


@dataclass
class Stage:
    """One FROM … stage: its instructions in order, as (keyword, arguments) pairs."""

    name: str
    steps: list[tuple[str, str]] = field(default_factory=list)

    def last(self, keyword: str) -> str:
        return [arg for kw, arg in self.steps if kw == keyword][-1]


def parse(text: str) -> list[Stage]:
    """Split the Dockerfile into stages (comments dropped, continuations joined)."""
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    stages: list[Stage] = []
    for line in filter(None, (ln.strip() for ln in joined.splitlines())):
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            name = args.split(" AS ")[-1] if " AS " in args else f"stage{len(stages)}"
            stages.append(Stage(name))
        elif stages:
            stages[-1].steps.append((keyword.upper(), args.strip()))
    return stages


def env_pairs(args: str) -> list[tuple[str, str]]:
    return [(k, v) for k, _, v in (item.partition("=") for item in shlex.split(args))]


class Replay:
    """Replays build steps under `root`, as the image's filesystem would hold them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cwd = root
        shims = root / "shims"  # the base image's `python`: this interpreter's own base
        shims.mkdir(parents=True)
        (shims / "python").symlink_to(getattr(sys, "_base_executable", sys.executable))
        clean = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONHOME"}}
        self.env = {**clean, "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}"}

    def path(self, text: str) -> str:
        return IMAGE_PATHS.sub(lambda m: f"{self.root}/{m.group(1)}", text)

    def step(self, keyword: str, args: str) -> None:
        if keyword == "ENV":
            for key, value in env_pairs(args):
                self.env[key] = self.path(value.replace("$PATH", self.env["PATH"]))
        elif keyword == "WORKDIR":
            self.cwd = Path(self.path(args))
            self.cwd.mkdir(parents=True, exist_ok=True)
        elif keyword == "COPY" and not args.startswith("--from"):
            *sources, target = shlex.split(args)
            for source in sources:
                self.copy(source, self.cwd / target)
        elif keyword == "RUN":
            result = run(
                ["/bin/sh", "-c", self.path(args)], cwd=self.cwd, env=self.env, timeout=240
            )
            assert result.returncode == 0, f"RUN {args}\n{result.stdout}\n{result.stderr}"

    def copy(self, source: str, target: Path) -> None:
        origin = REPO / source.rstrip("/")
        if origin.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
            shutil.copytree(origin, target, ignore=ignore, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target / origin.name)


@dataclass
class Image:
    """The replayed image: its environment and the final stage's run-time instructions."""

    env: dict[str, str]
    entrypoint: list[str]
    cmd: list[str]
    healthcheck: list[str]


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    """Replay the build stage in a fresh virtualenv, then apply the final stage's ENV."""
    build, final = parse(DOCKERFILE.read_text())
    replay = Replay(tmp_path_factory.mktemp("image"))
    for keyword, args in build.steps:
        replay.step(keyword, args)
    runtime = Replay(replay.root / "runtime")
    runtime.root = replay.root  # same filesystem: the venv copied by COPY --from=build
    for keyword, args in final.steps:
        if keyword == "ENV":
            runtime.step(keyword, args)
    health = final.last("HEALTHCHECK")
    built = shutil.which("ftwatch", path=runtime.env["PATH"])
    assert built and Path(built).is_relative_to(replay.root / "opt"), built
    return Image(
        env=runtime.env,
        entrypoint=json.loads(final.last("ENTRYPOINT")),
        cmd=json.loads(final.last("CMD")),
        healthcheck=json.loads(health[health.index("CMD") + 3 :]),
    )


def test_hadolint_finds_nothing() -> None:
    result = run([tool("hadolint"), "--no-color", str(DOCKERFILE)])
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_stages_are_slim_non_root_and_without_build_tools() -> None:
    text = DOCKERFILE.read_text()
    froms = re.findall(r"^FROM (\S+)", text, flags=re.M)
    assert len(froms) == 2 and froms[-1].endswith("-slim-bookworm")
    build, final = parse(text)
    copies = [args for kw, args in final.steps if kw == "COPY"]
    assert copies == [f"--from={build.name} /opt/ftwatch /opt/ftwatch"]  # the venv only
    assert final.last("USER") == "10001:10001"
    assert not any(kw == "RUN" and "apt-get" in args for kw, args in final.steps)
    assert "ftwatch" in final.last("ENTRYPOINT") and json.loads(final.last("CMD")) == ["run"]


def test_dockerignore_lets_in_only_what_the_build_copies() -> None:
    lines = [ln.strip() for ln in (REPO / ".dockerignore").read_text().splitlines()]
    rules = [ln for ln in lines if ln and not ln.startswith("#")]
    assert rules[0] == "*"  # everything else (.venv, tests, .env files, .git) stays out
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    build, _ = parse(DOCKERFILE.read_text())
    copied = {
        s.rstrip("/") for kw, args in build.steps if kw == "COPY" for s in shlex.split(args)[:-1]
    }
    assert copied == allowed


@pytest.mark.timeout(300)  # the first user of `image` waits for its pip installs
def test_the_built_console_script_runs(image: Image) -> None:
    result = run([*image.entrypoint, "--help"], env=image.env)
    assert result.returncode == 0, result.stderr
    assert "run" in result.stdout and "demo" in result.stdout


@pytest.mark.timeout(300)
async def test_entrypoint_serves_and_the_healthcheck_sees_it(
    image: Image, redis_server: RedisServer, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **image.env,
        "FTWATCH_HOST": "127.0.0.1",
        "FTWATCH_PORT": str(port),
        "FTWATCH_REDIS_URL": redis_server.url,
        "FTWATCH_DATA_DIR": str(tmp_path),
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "FTWATCH_LOG_FORMAT": "json",
    }

    async def healthcheck() -> bool:
        proc = await asyncio.create_subprocess_exec(
            *image.healthcheck,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return await proc.wait() == 0

    assert not await healthcheck()  # nothing listens yet: the check can fail
    service = await asyncio.create_subprocess_exec(
        *image.entrypoint,
        *image.cmd,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await eventually(healthcheck, timeout=30, interval=0.2, message="healthy")
        service.send_signal(signal.SIGTERM)  # the image's STOPSIGNAL
        assert await asyncio.wait_for(service.wait(), timeout=30) == 0
    finally:
        if service.returncode is None:
            service.kill()
            await service.wait()
