"""Reliability tests reuse the integration fixtures: simulator, Redis, ftwatch processes."""

from tests.integration.conftest import manual_sim, sim_jobs, start_ftwatch

__all__ = ["manual_sim", "sim_jobs", "start_ftwatch"]
