"""Paths and tools for the deploy tests: rendered overlays, the real CLI tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUSTOMIZE = DEPLOY / "kubernetes"
OVERLAYS = sorted(p.name for p in (KUSTOMIZE / "overlays").iterdir() if p.is_dir())
ALERTS = DEPLOY / "prometheus" / "ftwatch-alerts.yaml"
ALERT_TESTS = DEPLOY / "prometheus" / "ftwatch-alerts.test.yaml"
DASHBOARD = DEPLOY / "grafana" / "ftwatch.json"
VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """A tool from the project's venv (pip-installed ones) or else PATH; fail if missing."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; ./scripts/test installs it")
    return found


def tool_env() -> dict[str, str]:
    """The environment for tools that call others (checkov calls kubectl)."""
    return {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def run(args: list[str], *, timeout: float = 60, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a tool and capture its output as text."""
    return subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )


def kustomize(path: Path) -> list[dict[str, Any]]:
    """Render a kustomization with kubectl's built-in kustomize."""
    result = run([tool("kubectl"), "kustomize", str(path)], env=tool_env())
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one rendered object of `kind` whose name is `name` (or starts with `name-` + hash)."""
    matches = [
        d for d in docs if d["kind"] == kind and d["metadata"]["name"] in {name} | _hashed(d, name)
    ]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def _hashed(doc: dict[str, Any], name: str) -> set[str]:
    actual: str = doc["metadata"]["name"]
    prefix, _, suffix = actual.rpartition("-")
    return {actual} if prefix == name and len(suffix) == 10 else set()


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    """Each overlay's name and rendered objects."""
    name: str = request.param
    return name, kustomize(KUSTOMIZE / "overlays" / name)
