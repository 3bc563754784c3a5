"""`ftwatch rules check FILE` and `ftwatch rules backtest FILE --events EVENTS.jsonl`."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from workers.rules.backtest import backtest, format_rows
from workers.rules.capability_check import capability_errors, capability_warnings
from workers.rules.detectors.base import count
from workers.rules.errors import RulesError
from workers.rules.events_file import load_events_text
from workers.rules.loading import load_rules


def check_command(path: str, out: TextIO) -> int:
    """Print every error of the rules file at `path` (exit 1), or its warnings and
    `ok: …` (exit 0). An action no provider a rule matches can do is an error here,
    though the service runs such a file (see workers/rules/capability_check.py)."""
    try:
        rules = load_rules(path)
    except RulesError as exc:
        for line in exc.errors:
            print(line, file=out)
        return 1
    errors = capability_errors(rules)
    for line in errors:
        print(line, file=out)
    for line in capability_warnings(rules):
        print(f"warning: {line}", file=out)
    if errors:
        return 1
    print(
        f"ok: {count(len(rules.rules), 'rule')}, {count(len(rules.receivers), 'receiver')}",
        file=out,
    )
    return 0


def backtest_command(rules_path: str, events_path: str, out: TextIO) -> int:
    """Replay EVENTS.jsonl through the rules and print what would have fired.

    Exit 1 when the rules file is invalid or the events file cannot be read; bad event
    lines are reported (`events.jsonl:7: …`) and skipped.
    """
    try:
        rules = load_rules(rules_path)
    except RulesError as exc:
        for line in exc.errors:
            print(line, file=out)
        return 1
    try:
        loaded = load_events_text(Path(events_path).read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        print(f"{events_path}: {exc.strerror or exc}", file=out)
        return 1
    for error in loaded.errors:
        print(f"{events_path}:{error.removeprefix('line ')}", file=out)
    rows = backtest(rules, loaded.events)
    jobs = len({event.job_id for event in loaded.events})
    print(format_rows(rows, len(loaded.events), jobs), file=out)
    return 0
