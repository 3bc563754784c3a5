"""Poll cadence by status."""

from __future__ import annotations

import pytest

from workers.poller.cadence import poll_delay


@pytest.mark.parametrize("status", ["running", "pausing", "resuming", "brand_new_status"])
def test_active_and_unknown_statuses_poll_every_interval(status: str) -> None:
    assert poll_delay(status, 10, 3) == 10


@pytest.mark.parametrize("status", ["queued", "validating_files", "pending", "paused"])
def test_idle_statuses_poll_less_often(status: str) -> None:
    assert poll_delay(status, 10, 3) == 30


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled"])
def test_terminal_jobs_are_dropped(status: str) -> None:
    assert poll_delay(status, 10, 3) is None
