"""The real `ftwatch` refusing a configuration: every problem one line, at its place, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import FtwatchProcess, RedisServer

SCHEMES = "redis://, rediss://, unix://, redis+sentinel://, redis+cluster://"
LEVELS = "'debug', 'info', 'warning' or 'error'"
BAD_RULES = """\
receivers:
  - {name: ops, url: "http://127.0.0.1:9/hook", format: standard, secret_env: OPS_SECRET}
rules:
  - name: plateau
    when: {plateau: {metric: valid_reward_mean, patience: 0}}
    do: [pause, {notify: ops}]
"""
GOOD_RULES = BAD_RULES.replace("patience: 0", "patience: 3")
ERROR = "ftwatch: configuration error: "


def ftwatch(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`ftwatch <command>` with only `env` of ftwatch's variables set."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FTWATCH_", "OPENAI_"))}
    return subprocess.run(
        [sys.executable, "-m", "service.cli", command],
        capture_output=True,
        text=True,
        timeout=30,
        env={**base, "FTWATCH_REDIS_URL": "redis://127.0.0.1:9/0", **env},
        check=False,
    )


def refused_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr's lines once the start was refused: exit 2, nothing else said, no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    return result.stderr.splitlines()


def test_every_problem_of_variables_and_config_file_is_listed_in_one_start(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(BAD_RULES)
    env = {
        "FTWATCH_PORT": "99999",
        "FTWATCH_POLL_INTERVAL": "10s",
        "FTWATCH_LOG_FORMAT": "xml",
        "FTWATCH_RULES": str(rules),
    }
    assert refused_lines(ftwatch("run", env)) == [
        f"{ERROR}FTWATCH_PORT: must be <= 65535 (got '99999')",
        f"{ERROR}FTWATCH_POLL_INTERVAL: must be a number (got '10s')",
        f"{ERROR}FTWATCH_LOG_FORMAT: must be 'json' or 'console' (got 'xml')",
        f"{ERROR}{rules}: rules[0].when.plateau.patience: must be >= 1",
    ]


def test_a_yaml_error_is_named_by_file_line_and_column(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: x\n    when: {plateau: {patience: 3}\n")
    [line] = refused_lines(ftwatch("run", {"FTWATCH_RULES": str(rules)}))
    assert line.startswith(f"{ERROR}{rules}:4:1: ")


def test_a_missing_rules_file_and_a_missing_receiver_secret(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert refused_lines(ftwatch("run", {"FTWATCH_RULES": str(missing)})) == [
        f"{ERROR}{missing}: no such file"
    ]
    rules = tmp_path / "rules.yaml"
    rules.write_text(GOOD_RULES)
    assert refused_lines(ftwatch("run", {"FTWATCH_RULES": str(rules)})) == [
        f"{ERROR}{rules}: receivers[0].secret_env: environment variable OPS_SECRET is not set"
    ]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://nope", f"scheme 'http://' is not supported; use one of {SCHEMES}"),
        ("localhost:6379", f"has no scheme; use one of {SCHEMES}"),
        ("redis://localhost:x/0", "Port could not be cast to integer value as 'x'"),
        ("redis+sentinel:///mymaster", "redis+sentinel:// needs at least one host:port"),
    ],
)
def test_a_redis_url_ftwatch_cannot_use_names_the_variable(url: str, problem: str) -> None:
    lines = refused_lines(ftwatch("run", {"FTWATCH_REDIS_URL": url}))
    # The URL is not echoed: it may carry a password.
    assert lines == [f"{ERROR}FTWATCH_REDIS_URL: {problem}"]


@pytest.mark.parametrize("command", ["run", "demo"])
def test_an_unknown_log_level_stops_run_and_demo(command: str) -> None:
    assert refused_lines(ftwatch(command, {"FTWATCH_LOG_LEVEL": "verbose"})) == [
        f"{ERROR}FTWATCH_LOG_LEVEL: must be {LEVELS} (got 'verbose')"
    ]


def test_a_misspelt_variable_is_named_beside_the_errors() -> None:
    env = {"FTWATCH_POLL_INTERVALL": "5", "FTWATCH_LOG_LEVEL": "loud"}
    assert refused_lines(ftwatch("run", env)) == [
        "ftwatch: warning: FTWATCH_POLL_INTERVALL is not a setting ftwatch knows, ignored; "
        "did you mean FTWATCH_POLL_INTERVAL?",
        f"{ERROR}FTWATCH_LOG_LEVEL: must be {LEVELS} (got 'loud')",
    ]


async def test_a_misspelt_variable_is_warned_about_and_the_service_starts(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    proc = FtwatchProcess(
        {
            "FTWATCH_REDIS_URL": redis_server.url,
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "FTWATCH_POLL_INTERVALL": "5",
            "FTWATCH_LOG_LEVEL": "WARNING",  # any case
        },
        tmp_path / "run.log",
    )
    proc.start()
    try:
        await proc.wait_healthy()
        assert proc.terminate() == 0
    finally:
        proc.kill()
    [warning] = [r for r in proc.log_records() if r.get("event") == "unknown_setting"]
    assert warning["level"] == "warning"
    assert warning["variable"] == "FTWATCH_POLL_INTERVALL"
    assert warning["did_you_mean"] == "FTWATCH_POLL_INTERVAL"


def test_an_ingest_token_equal_to_the_api_token_stops_run() -> None:
    env = {"FTWATCH_API_TOKEN": "same-secret", "FTWATCH_INGEST_TOKEN": "same-secret"}
    [line] = refused_lines(ftwatch("run", env))
    assert line.startswith(f"{ERROR}FTWATCH_INGEST_TOKEN: is the same as FTWATCH_API_TOKEN")
    assert "same-secret" not in line  # a secret is never echoed
