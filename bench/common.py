"""What every benchmark shares: the machine, a private Redis, ftwatch processes, tables."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped]

from tests.support import FtwatchProcess, RedisServer

ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    """`nproc`, CPU model, RAM, Python and redis-server versions, on one line."""
    model = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram = psutil.virtual_memory().total / 2**30
    redis = shutil.which("redis-server") or "redis-server"
    version = subprocess.run([redis, "--version"], capture_output=True, text=True, check=False)
    server = version.stdout.split(" v=")[1].split()[0] if " v=" in version.stdout else "?"
    return (
        f"{os.cpu_count()} CPU ({model}), {ram:.1f} GiB RAM, Python "
        f"{platform.python_version()}, redis-server {server}"
    )


@contextlib.contextmanager
def private_redis(*, appendonly: bool = False) -> Iterator[RedisServer]:
    """A redis-server child on a free port (no AOF by default: we measure ftwatch, not fsync)."""
    with tempfile.TemporaryDirectory(prefix="ftwatch-bench-") as tmp:
        server = RedisServer(Path(tmp), appendonly=appendonly)
        server.start()
        try:
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def ftwatch_processes(
    env: dict[str, str], roles: Sequence[str], logdir: Path
) -> Iterator[list[FtwatchProcess]]:
    """`ftwatch run --role R` children (one per role given), terminated on exit."""
    procs = []
    try:
        for index, role in enumerate(roles):
            named = {**env, "FTWATCH_REPLICA_NAME": f"bench-{role}-{index}"}
            proc = FtwatchProcess(named, logdir / f"{role}-{index}.log", role=role)
            proc.start()
            procs.append(proc)
        yield procs
    finally:
        for proc in procs:
            with contextlib.suppress(Exception):
                proc.terminate(timeout=30)


async def wait_healthy(procs: Sequence[FtwatchProcess]) -> None:
    await asyncio.gather(*(p.wait_healthy(timeout=60) for p in procs))


@dataclass
class Usage:
    """CPU seconds and peak RSS of a set of processes over a measured interval."""

    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0


class UsageProbe:
    """Samples processes' CPU time and RSS (peak kept) until stopped."""

    def __init__(self, pids: Sequence[int], interval: float = 0.2) -> None:
        self._procs = [psutil.Process(pid) for pid in pids]
        self._interval = interval
        self._start = [self._cpu(p) for p in self._procs]
        self.peak_rss = [0.0 for _ in self._procs]
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def _cpu(proc: psutil.Process) -> float:
        times = proc.cpu_times()
        return float(times.user + times.system)

    def _sample(self) -> None:
        for index, proc in enumerate(self._procs):
            with contextlib.suppress(psutil.Error):
                rss = proc.memory_info().rss / 2**20
                self.peak_rss[index] = max(self.peak_rss[index], rss)

    async def _loop(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(self._interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> list[Usage]:
        """Per process: CPU seconds since the probe was made, peak RSS seen."""
        self._sample()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        out = []
        for index, proc in enumerate(self._procs):
            cpu = 0.0
            with contextlib.suppress(psutil.Error):
                cpu = self._cpu(proc) - self._start[index]
            out.append(Usage(cpu, self.peak_rss[index]))
        return out


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table."""
    cells = [[_cell(c) for c in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if value < 1 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def command_line() -> str:
    """How this benchmark was started, for the report."""
    module = Path(sys.argv[0]).stem if sys.argv else "?"
    return " ".join(["python -m bench." + module, *sys.argv[1:]])


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[rank]


def now() -> float:
    return time.time()


class SimProcess:
    """The simulator (bench.simserver) in a child process, on a scenario written to a file."""

    def __init__(self, scenario_json: str, workdir: Path) -> None:
        from tests.support import free_port  # noqa: PLC0415 - beside the other test helpers

        self.port = free_port()
        self.path = workdir / "scenario.json"
        self.path.write_text(scenario_json)
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.simserver",
                "--scenario",
                str(self.path),
                "--port",
                str(self.port),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"simulator did not start: {line!r}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()


@contextlib.contextmanager
def simulator(scenario_json: str, workdir: Path) -> Iterator[SimProcess]:
    sim = SimProcess(scenario_json, workdir)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()
