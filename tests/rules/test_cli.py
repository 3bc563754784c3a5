from __future__ import annotations

import io
from pathlib import Path

from tests.rules.factories import event
from tests.rules.test_loading import SPEC_EXAMPLE
from workers.rules.cli import backtest_command, check_command


def test_check_says_ok_with_the_counts(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(SPEC_EXAMPLE, encoding="utf-8")
    out = io.StringIO()
    assert check_command(str(path), out) == 0
    assert out.getvalue() == "ok: 5 rules, 1 receiver\n"


def test_check_prints_every_error_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n"
        "  - {name: a, when: {plateau: {metric: m, patience: 0}}, do: [pause]}\n"
        "  - {name: a, when: {status: done}, do: [{notify: ops}]}\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    assert check_command(str(path), out) == 1
    assert out.getvalue().splitlines() == [
        "rules[0].when.plateau.patience: must be >= 1",
        "rules[1].when.status: unknown status 'done' (known: validating, queued, running,"
        " pausing, paused, resuming, succeeded, failed, cancelled, unknown)",
        "rules[1].name: duplicate rule name 'a' (first at rules[0])",
        "rules[1].do[0].notify: unknown receiver 'ops' (declared: log)",
    ]
    out = io.StringIO()
    assert check_command(str(tmp_path / "missing.yaml"), out) == 1
    assert out.getvalue() == f"{tmp_path / 'missing.yaml'}: no such file\n"


def test_backtest_replays_a_recording_and_reports_bad_lines(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - name: divergence\n"
        "    when: {threshold: {metric: train_loss, non_finite: true}}\n"
        "    do: [cancel]\n",
        encoding="utf-8",
    )
    events = tmp_path / "events.jsonl"
    lines = [
        event(1, train_loss=0.5).model_dump_json(),
        "oops",
        event(2, train_loss=float("inf")).model_dump_json(),
    ]
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = io.StringIO()
    assert backtest_command(str(rules), str(events), out) == 0
    text = out.getvalue().splitlines()
    assert text[0] == f"{events}:2: invalid JSON: Expecting value (column 1)"
    assert text[1].split()[:3] == ["TIME", "(UTC)", "JOB"]
    assert "divergence" in text[2] and "train_loss inf is not finite at step 2" in text[2]
    assert text[-1] == "1 firing over 2 events of 1 job"


def test_backtest_fails_on_bad_rules_or_a_missing_recording(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: [{name: x}]\n", encoding="utf-8")
    out = io.StringIO()
    assert backtest_command(str(rules), str(tmp_path / "none.jsonl"), out) == 1
    assert out.getvalue().splitlines() == ["rules[0].when: required", "rules[0].do: required"]
    rules.write_text("rules: []\n", encoding="utf-8")
    out = io.StringIO()
    assert backtest_command(str(rules), str(tmp_path / "none.jsonl"), out) == 1
    assert out.getvalue() == f"{tmp_path / 'none.jsonl'}: No such file or directory\n"
