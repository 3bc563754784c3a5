"""A real Alertmanager (Debian's prometheus-alertmanager) on free loopback ports."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support import eventually, free_port

# Small intervals so a test sees grouping and repeats within seconds (defaults: 30s/5m/4h).
FAST_ROUTE = {"group_wait": "100ms", "group_interval": "500ms", "repeat_interval": "1s"}


def config(webhook_url: str | None = None, token: str | None = None) -> dict[str, Any]:
    """An Alertmanager config: every alert to `ftwatch` (a webhook when `webhook_url`)."""
    receiver: dict[str, Any] = {"name": "ftwatch"}
    if webhook_url is not None:
        hook: dict[str, Any] = {"url": webhook_url, "send_resolved": True}
        if token is not None:
            # What SPEC §6 asks for: Authorization: Bearer <FTWATCH_API_TOKEN>.
            hook["http_config"] = {"authorization": {"type": "Bearer", "credentials": token}}
        receiver["webhook_configs"] = [hook]
    route = {"receiver": "ftwatch", "group_by": ["alertname", "job_id"], **FAST_ROUTE}
    return {"global": {"resolve_timeout": "5m"}, "route": route, "receivers": [receiver]}


@dataclass
class Alertmanager:
    """One running Alertmanager; its API read back as a user (or amtool) would."""

    url: str
    http: aiohttp.ClientSession
    workdir: Path

    def log(self) -> str:
        """What the process printed (it logs each failed notification with its status)."""
        return (self.workdir / "log").read_text()

    async def alerts(self, **labels: str) -> list[dict[str, Any]]:
        """Active alerts (`GET /api/v2/alerts`) whose labels include `labels`."""
        params = [("filter", f'{name}="{value}"') for name, value in labels.items()]
        async with self.http.get(f"{self.url}/api/v2/alerts", params=params) as resp:
            assert resp.status == 200, await resp.text()
            found: list[dict[str, Any]] = await resp.json()
            return found

    async def post(self, alerts: list[dict[str, Any]]) -> None:
        """Post alerts as Prometheus does (`POST /api/v2/alerts`)."""
        async with self.http.post(f"{self.url}/api/v2/alerts", json=alerts) as resp:
            assert resp.status == 200, await resp.text()

    async def counter(self, name: str, **labels: str) -> float:
        """A counter of Alertmanager's own /metrics (e.g. its notifications sent)."""
        async with self.http.get(f"{self.url}/metrics") as resp:
            text = await resp.text()
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and labels.items() <= sample.labels.items():
                    total += sample.value
        return total


@pytest.fixture
async def start_alertmanager(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """`await start_alertmanager(config(...))`: a ready Alertmanager; killed afterwards."""
    binary = shutil.which("prometheus-alertmanager")
    if binary is None:
        pytest.fail("prometheus-alertmanager is not installed; ./scripts/test installs it")
    procs: list[subprocess.Popen[bytes]] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(cfg: dict[str, Any]) -> Alertmanager:
        n = len(procs)
        path = tmp_path / f"alertmanager-{n}.yml"
        path.write_text(yaml.safe_dump(cfg))
        port = free_port()
        workdir = tmp_path / f"am-{n}"
        procs.append(_launch(binary, path, workdir, port))
        http = aiohttp.ClientSession()
        sessions.append(http)
        am = Alertmanager(f"http://127.0.0.1:{port}", http, workdir)
        await eventually(lambda: _ready(am), timeout=20, interval=0.05, message="not ready")
        return am

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)
    for http in sessions:
        await http.close()


def _launch(binary: str, config_path: Path, workdir: Path, port: int) -> subprocess.Popen[bytes]:
    """The process, its output in `workdir/log` (the child keeps the file open)."""
    workdir.mkdir()
    with (workdir / "log").open("wb") as log:
        return subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",  # no HA gossip (Debian's default enables it)
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def _ready(am: Alertmanager) -> bool:
    try:
        async with am.http.get(f"{am.url}/-/ready") as resp:
            return resp.status == 200
    except aiohttp.ClientError:
        return False
