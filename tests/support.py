"""Real parts for the tests: a redis-server child on a free port, waits with deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import redis.asyncio as aioredis
import trustme
from aiohttp import web

from service.models.audit import ActionRecord
from service.models.firing import Firing
from service.store import audit, keys
from service.store.audit import AuditItem

T = TypeVar("T")

StreamEntry = tuple[str, dict[str, str]]
"""A stream entry as the tests' client (decode_responses=True) returns it: id, fields."""


# Ports this test run has handed out. The kernel may give a just-closed port to the next
# bind(0): two children told the same port, one fails to bind and the other answers for
# it (CI once saw a webhook land on a poller's health server and get a 404).
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on now and no earlier caller was given."""
    for _ in range(1000):  # bounded: the ephemeral range has ~28,000 ports
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no port on 127.0.0.1 that this test run has not handed out already")


@dataclass(frozen=True)
class TlsFiles:
    """A CA and a certificate it signed (for 127.0.0.1 and localhost), as PEM files; with
    `auth_clients` servers ask clients for a certificate and clients show this one."""

    ca: Path
    cert: Path
    key: Path
    auth_clients: bool = False

    @classmethod
    def issue(
        cls, directory: Path, names: tuple[str, ...] = ("127.0.0.1", "localhost")
    ) -> TlsFiles:
        """Files of a new CA and a certificate it signed for `names`, under `directory`."""
        ca = trustme.CA()
        directory.mkdir(parents=True, exist_ok=True)
        issued = ca.issue_cert(*names)
        files = cls(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
        ca.cert_pem.write_to_path(str(files.ca))
        issued.cert_chain_pems[0].write_to_path(str(files.cert))
        issued.private_key_pem.write_to_path(str(files.key))
        return files

    def server_args(self, port: int) -> tuple[str, ...]:
        """redis-server (or sentinel) arguments: TLS only, on `port`."""
        return (
            *("--port", "0", "--tls-port", str(port)),
            *("--tls-cert-file", str(self.cert), "--tls-key-file", str(self.key)),
            *("--tls-ca-cert-file", str(self.ca)),
            *("--tls-auth-clients", "yes" if self.auth_clients else "no"),
        )

    def client_options(self) -> dict[str, Any]:
        """redis-py client arguments that trust this CA (and show the certificate)."""
        options: dict[str, Any] = {"ssl": True, "ssl_ca_certs": str(self.ca)}
        if self.auth_clients:
            options |= {"ssl_certfile": str(self.cert), "ssl_keyfile": str(self.key)}
        return options

    def url_query(self) -> str:
        """The ssl_* options of FTWATCH_REDIS_URL, without the leading `?` or `&`."""
        options = self.client_options()
        options.pop("ssl")
        return "&".join(f"{name}={quote(value)}" for name, value in options.items())

    def cli_args(self) -> tuple[str, ...]:
        """The same for redis-cli."""
        shown = ("--cert", str(self.cert), "--key", str(self.key)) if self.auth_clients else ()
        return ("--tls", "--cacert", str(self.ca), *shown)

    def context(self) -> ssl.SSLContext:
        """A client context trusting this CA (and showing the certificate), for the start's
        PING: it checks the chain, not the name (a test may issue one without 127.0.0.1)."""
        context = ssl.create_default_context(cafile=str(self.ca))
        context.check_hostname = False
        if self.auth_clients:
            context.load_cert_chain(str(self.cert), str(self.key))
        return context


def wait_for_pong(port: int, tls: TlsFiles | None = None) -> None:
    """Wait (bounded) until a redis-server or sentinel on `port` answers PING."""
    context = tls.context() if tls else None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):  # ssl.SSLError too: not listening yet
            if _pong(port, context):
                return
        time.sleep(0.02)
    raise RuntimeError(f"redis-server on port {port} did not start")


def _pong(port: int, context: ssl.SSLContext | None) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.2) as raw:
        sock = context.wrap_socket(raw, server_hostname="127.0.0.1") if context else raw
        with sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")


class RedisServer:
    """A real redis-server on 127.0.0.1 that a test can kill and restart (AOF keeps data).

    With `tls` it listens for TLS only (`--port 0`), as a managed TLS Redis does."""

    def __init__(
        self,
        workdir: Path,
        *,
        appendonly: bool = True,
        extra: tuple[str, ...] = (),
        tls: TlsFiles | None = None,
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.appendonly = appendonly
        self.extra = extra  # more redis-server arguments (a replica's --replicaof)
        self.tls = tls
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.tls:
            return f"rediss://127.0.0.1:{self.port}/0?{self.tls.url_query()}"
        return f"redis://127.0.0.1:{self.port}/0"

    def client_options(self) -> dict[str, Any]:
        """redis-py arguments of a plain client of this server (TLS when it is)."""
        return self.tls.client_options() if self.tls else {}

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server must be on PATH for the tests"
        listen = self.tls.server_args(self.port) if self.tls else ("--port", str(self.port))
        self.proc = subprocess.Popen(
            [
                binary,
                *listen,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes" if self.appendonly else "no",
                "--appendfsync",
                "always",
                "--dir",
                str(self.workdir),
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_pong(self.port, self.tls)
        except RuntimeError:
            self.kill()  # no child left behind by a failed start
            raise

    def kill(self) -> None:
        """SIGKILL the server (what a crash looks like to clients)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


async def eventually(
    probe: Callable[[], Awaitable[T]],
    *,
    timeout: float = 10.0,
    interval: float = 0.02,
    message: str = "condition not met",
) -> T:
    """Poll `probe` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"{message} within {timeout}s (last value: {last!r})")


def text(value: object) -> str:
    """A reply value of the tests' decoding client, which redis-py types as bytes | str."""
    assert isinstance(value, str), f"the tests' Redis client decodes replies, got {value!r}"
    return value


def entries(rows: object) -> list[StreamEntry]:
    """XRANGE/XREADGROUP rows narrowed to str ids and fields (redis-py types each as
    `bytes | str | None`, for either decode_responses setting and deleted entries)."""
    assert isinstance(rows, list), rows
    found: list[StreamEntry] = []
    for entry_id, fields in rows:
        assert isinstance(fields, dict), (entry_id, fields)
        found.append((text(entry_id), {text(k): text(v) for k, v in fields.items()}))
    return found


async def xrange(redis: aioredis.Redis, stream: str) -> list[StreamEntry]:
    """Every entry of `stream`, oldest first."""
    return entries(await redis.xrange(stream))


async def every_partition(redis: aioredis.Redis, stream: Callable[[int], str]) -> list[StreamEntry]:
    """The entries of a partitioned stream (one stream on one Redis), in entry id order."""
    found = [e for p in keys.partitions() for e in await xrange(redis, stream(p))]
    return sorted(found, key=lambda e: tuple(int(part) for part in e[0].split("-")))


async def audit_log(redis: aioredis.Redis) -> list[AuditItem]:
    """Every entry of the audit log `ftwatch:actions` (every partition's on a cluster),
    oldest first: firings and actions."""
    rows = await every_partition(redis, keys.actions_stream)
    items = [audit.decode(fields) for _, fields in rows]
    return [item for item in items if item is not None]


async def recorded_firings(redis: aioredis.Redis) -> list[Firing]:
    """The firings on the audit log, oldest first (each recorded once)."""
    return [i.firing for i in await audit_log(redis) if i.firing is not None and i.action is None]


async def recorded_actions(redis: aioredis.Redis) -> list[ActionRecord]:
    """The action outcomes on the audit log, oldest first."""
    return [i.action for i in await audit_log(redis) if i.action is not None]


async def zscores(redis: aioredis.Redis, key: str) -> list[tuple[str, float]]:
    """A sorted set's members with their scores, lowest first."""
    found: list[tuple[str, float]] = []
    for row in await redis.zrange(key, 0, -1, withscores=True):
        assert isinstance(row, tuple | list), row  # WITHSCORES pairs each member and score
        member, score = row
        found.append((text(member), float(score)))
    return found


@contextlib.asynccontextmanager
async def served(app: web.Application) -> AsyncIterator[str]:
    """Serve `app` on a free 127.0.0.1 port; yields its base URL, cleans up on exit."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class FtwatchProcess:
    """The real `ftwatch run` in a child process, for behaviour that spans processes."""

    def __init__(self, env: dict[str, str], log_path: Path, role: str = "all") -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            **env,
            "FTWATCH_HOST": "127.0.0.1",
            "FTWATCH_PORT": str(self.port),
            "FTWATCH_LOG_FORMAT": "json",
        }
        self.log_path = log_path
        self.role = role
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "service.cli", "run", "--role", self.role],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def wait_healthy(self, timeout: float = 20.0) -> None:
        async def healthy() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.log_tail()
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                return False
            writer.write(b"GET /healthz HTTP/1.0\r\n\r\n")
            answer = await reader.read(64)
            writer.close()
            return b" 200 " in answer

        await eventually(healthy, timeout=timeout, interval=0.05, message="ftwatch not healthy")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, like a crashed pod."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_records(self) -> list[dict[str, object]]:
        records = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
        return records
