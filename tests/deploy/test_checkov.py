"""checkov over deploy/ and the Dockerfile: no failed check; each skip justified beside it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import DEPLOY, REPO, tool_env

# scripts/test installs checkov in a venv of its own: its pinned dependencies (packaging<24)
# conflict with pytest's.
CHECKOV = Path(sys.prefix) / "tools" / "checkov" / "bin" / "checkov"
SKIP = re.compile(r"checkov\.io/skip\d+:\s*(CKV2?_[A-Z0-9]+_\d+)=(.*)")
Report = dict[str, dict[str, Any]]


def _start(target: list[str]) -> subprocess.Popen[str]:
    # --skip-download: no network; checkov otherwise fetches guidelines from its platform.
    args = [str(CHECKOV), *target, "--skip-download", "--output", "json"]
    return subprocess.Popen(
        args, cwd=REPO, env=tool_env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


@pytest.fixture(scope="module")
def report() -> Report:
    """One checkov run per session (it is slow): deploy/ and the Dockerfile side by side."""
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}; ./scripts/test installs it")
    runs = [_start(["--directory", "deploy"]), _start(["--file", "Dockerfile"])]
    reports: Report = {}
    for proc in runs:
        out, err = proc.communicate(timeout=120)
        parsed = json.loads(out)
        for framework in parsed if isinstance(parsed, list) else [parsed]:
            reports[framework["check_type"]] = framework
        assert proc.returncode in {0, 1}, err  # 1: failed checks, reported below
    return reports


def test_every_framework_ran_over_every_part(report: Report) -> None:
    assert {"kubernetes", "kustomize", "dockerfile"} <= set(report)
    for framework in report.values():
        assert framework["summary"]["parsing_errors"] == 0
        assert framework["summary"]["passed"] > 0
    checked = {
        c["resource"].split(":")[1]
        for c in report["kustomize"]["results"]["passed_checks"]
        if c["resource"].startswith("overlay:")
    }
    assert checked == {"overlays/dev", "overlays/ha", "overlays/prod"}


def test_no_failed_checks(report: Report) -> None:
    failed = [
        (name, c["check_id"], c["resource"], c["file_path"])
        for name, framework in report.items()
        for c in framework["results"]["failed_checks"]
    ]
    assert failed == []


def _declared_skips() -> dict[str, list[tuple[Path, str]]]:
    skips: dict[str, list[tuple[Path, str]]] = {}
    for path in DEPLOY.rglob("*.yaml"):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            match = SKIP.search(line)
            if match:
                comments = "\n".join(lines[max(0, number - 8) : number])
                skips.setdefault(match.group(1), []).append((path, match.group(2).strip()))
                assert match.group(1) in comments, f"{path}:{number + 1}: explain the skip above it"
    return skips


def test_every_skip_is_declared_with_its_reason(report: Report) -> None:
    declared = _declared_skips()
    for ids in declared.values():
        assert all(len(reason) >= 20 for _, reason in ids)
    skipped = {
        c["check_id"]
        for framework in report.values()
        for c in framework["results"]["skipped_checks"]
    }
    assert skipped == set(declared)
    assert "checkov:skip" not in (REPO / "Dockerfile").read_text()
