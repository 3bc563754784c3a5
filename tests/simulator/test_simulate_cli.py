"""The real `ftwatch simulate` process: startup errors are one line, --flavor is served."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import openai

from service.cli import SIM_FLAVORS
from simulator.flavors import FLAVORS
from tests.simulator.azure import PREVIEW

ROOT = Path(__file__).resolve().parents[2]


def simulate(*args: str) -> subprocess.Popen[str]:
    """`ftwatch simulate ...` (the console script's `service.cli:main`, from this checkout)."""
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", "simulate", *args],
        cwd=ROOT,
        env={**os.environ, "FTWATCH_LOG_FORMAT": "json"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(*args: str) -> tuple[int, str]:
    proc = simulate(*args)
    _out, err = proc.communicate(timeout=30)
    return proc.returncode, err


def test_a_port_in_use_is_one_line_and_exit_1() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        code, err = finished("--port", str(port), "--flavor", "azure")
    assert code == 1
    assert err == f"ftwatch simulate: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_a_bad_scenario_names_every_problem_on_one_line_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("jobs:\n  - method: nope\n    total_steps: 0\n", encoding="utf-8")
    code, err = finished("--port", "0", "--scenario", str(bad))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"ftwatch simulate: {bad}: invalid scenario; jobs[0].method: ")
    assert "jobs[0].total_steps: " in err


def test_a_missing_or_unparsable_scenario_exits_2(tmp_path: Path) -> None:
    code, err = finished("--scenario", str(tmp_path / "absent.yaml"))
    assert (code, err) == (
        2,
        f"ftwatch simulate: {tmp_path / 'absent.yaml'}: cannot read: No such file or directory\n",
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text("jobs: [\n", encoding="utf-8")
    code, err = finished("--scenario", str(broken))
    assert code == 2 and err.count("\n") == 1 and "cannot parse" in err


def test_the_azure_flavor_is_served_until_sigterm() -> None:
    proc = simulate("--port", "0", "--flavor", "azure")
    try:
        assert proc.stderr is not None
        # The listening line names the bound port: no guessing, no polling.
        line = json.loads(proc.stderr.readline())
        assert (line["event"], line["flavor"]) == ("simulator.listening", "azure")
        endpoint = line["base_url"].removesuffix("/openai")
        client = openai.AzureOpenAI(
            azure_endpoint=endpoint, api_key="k", api_version=PREVIEW, max_retries=0
        )
        with client:
            ids = [job.id for job in client.fine_tuning.jobs.list()]
        assert ids and ids == line["jobs"][::-1]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.communicate(timeout=30)


def test_the_cli_offers_exactly_the_simulators_flavors() -> None:
    assert tuple(FLAVORS) == SIM_FLAVORS
