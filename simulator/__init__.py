"""A faithful fake of the OpenAI and Azure fine-tuning HTTP APIs, scripted per job (SPEC §4.4)."""

from simulator.app import create_app, run_simulator, start_simulator
from simulator.faults import Faults
from simulator.flavors import FLAVORS, Flavor
from simulator.platform import ManualClock, Platform
from simulator.presets import default_scenario, generate_scenario
from simulator.scenario import JobSpec, Scenario, ScenarioError, load_scenario

__all__ = [
    "FLAVORS",
    "Faults",
    "Flavor",
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
    "start_simulator",
]
