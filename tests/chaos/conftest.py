"""Print every chaos run's summary at the end of the session, passed or failed."""

from __future__ import annotations

import pytest

from tests.chaos.summary import REPORTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not REPORTS:
        return
    terminalreporter.section("chaos runs")
    for report in REPORTS:
        terminalreporter.write_line(report)
