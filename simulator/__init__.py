"""A faithful fake of the OpenAI fine-tuning HTTP API, scripted per job (SPEC §4)."""

from simulator.app import create_app, run_simulator
from simulator.faults import Faults
from simulator.platform import ManualClock, Platform
from simulator.presets import default_scenario, generate_scenario
from simulator.scenario import JobSpec, Scenario, ScenarioError, load_scenario

__all__ = [
    "Faults",
    "JobSpec",
    "ManualClock",
    "Platform",
    "Scenario",
    "ScenarioError",
    "create_app",
    "default_scenario",
    "generate_scenario",
    "load_scenario",
    "run_simulator",
]
