"""The `ftwatch` command itself: rules check, refusing a bad configuration, SIGTERM."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import FtwatchProcess, RedisServer

BAD_RULES = """
receivers:
  - {name: ops, url: ftp://example.invalid/hook, format: standard, secret_env: OPS_SECRET}
rules:
  - name: plateau
    when: {plateau: {metric: valid_reward_mean, patience: 0}}
    do: [pause, {notify: nobody}]
"""
GOOD_RULES = """
receivers:
  - {name: ops, url: "http://127.0.0.1:9/hook", format: standard, secret_env: OPS_SECRET}
rules:
  - name: plateau
    when: {plateau: {metric: valid_reward_mean, patience: 3}}
    do: [pause, {notify: ops}]
"""


def ftwatch(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_rules_check_names_every_bad_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_RULES)
    result = ftwatch("rules", "check", str(bad))
    assert result.returncode == 1
    assert "receivers[0].url" in result.stdout
    assert "rules[0].when.plateau.patience" in result.stdout
    assert "nobody" in result.stdout
    good = tmp_path / "good.yaml"
    good.write_text(GOOD_RULES)
    assert ftwatch("rules", "check", str(good)).returncode == 0


def test_the_service_refuses_a_bad_rules_file(tmp_path: Path, redis_server: RedisServer) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_RULES)
    proc = FtwatchProcess(
        {"FTWATCH_REDIS_URL": redis_server.url, "FTWATCH_RULES": str(bad)}, tmp_path / "run.log"
    )
    proc.start()
    assert proc.proc is not None
    assert proc.proc.wait(timeout=30) == 2
    tail = proc.log_tail()
    assert f"ftwatch: configuration error: {bad}: rules[0].when.plateau.patience" in tail
    assert f"ftwatch: configuration error: {bad}: receivers[0].url" in tail
    assert "Traceback" not in tail


def test_a_receiver_without_its_secret_is_a_configuration_error(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD_RULES)
    proc = FtwatchProcess(
        {"FTWATCH_REDIS_URL": redis_server.url, "FTWATCH_RULES": str(good)}, tmp_path / "run.log"
    )
    proc.env.pop("OPS_SECRET", None)
    proc.start()
    assert proc.proc is not None
    assert proc.proc.wait(timeout=30) == 2
    assert proc.log_tail().splitlines() == [
        f"ftwatch: configuration error: {good}: receivers[0].secret_env: "
        "environment variable OPS_SECRET is not set"
    ]


async def test_sigterm_exits_zero(tmp_path: Path, redis_server: RedisServer) -> None:
    proc = FtwatchProcess(
        {
            "FTWATCH_REDIS_URL": redis_server.url,
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        },
        tmp_path / "run.log",
    )
    proc.start()
    try:
        await proc.wait_healthy()
        assert proc.terminate(timeout=30) == 0
    finally:
        proc.kill()
