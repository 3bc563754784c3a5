"""`ftwatch demo`, the README's first command, as a new user runs it (issue 18)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

RULES = ("reward-plateau", "grader-errors", "loss-divergence", "finished")


@pytest.mark.timeout(200)
def test_the_demo_says_what_it_runs_shows_its_notifications_and_ends_with_a_table(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "FTWATCH_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "demo"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    intro = "\n".join(lines[:12])
    assert "service/demo_rules.yaml" in intro
    assert all(f"  {rule} " in intro for rule in RULES), intro
    notified = [line for line in lines if line.startswith("NOTIFY  ")]
    # Three firings with actions and three finished jobs, each delivered once and verified.
    assert len(notified) == 6, notified
    assert all("signature ok" in line for line in notified)
    table = lines[lines.index(next(line for line in lines if line.startswith("Done in "))) :]
    rows = {line.split()[0]: line.split(maxsplit=2)[1:] for line in table[2:6]}
    assert rows == {
        "ftjob-demo-rft-grader-errors": ["succeeded", "pause ok; resume ok"],
        "ftjob-demo-rft-plateau": ["paused", "pause ok"],
        "ftjob-demo-sft-diverges": ["cancelled", "cancel ok"],
        "ftjob-demo-sft-succeeds": ["succeeded", "none needed"],
    }
    assert table[-1].startswith("6 notifications delivered")
    assert "Traceback" not in result.stderr
