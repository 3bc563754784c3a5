"""Typed application keys: everything the app shares between its parts."""

from __future__ import annotations

import asyncio
from typing import Literal

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web

from service.metrics import Metrics
from service.providers.registry import Providers
from service.settings import Settings
from service.store.decisions import DecisionStore
from service.store.jobs import JobStore
from service.store.schedule import Schedule
from service.store.scripts import Scripts
from workers.actions.executor import ActionExecutor
from workers.rules.config import RulesFile
from workers.supervisor import Supervisor

Role = Literal["all", "api", "poller", "worker"]

SETTINGS = web.AppKey("settings", Settings)
ROLE = web.AppKey("role", str)
METRICS = web.AppKey("metrics", Metrics)
REDIS = web.AppKey("redis", aioredis.Redis)
SCRIPTS = web.AppKey("scripts", Scripts)
JOBS = web.AppKey("jobs", JobStore)
SCHEDULE = web.AppKey("schedule", Schedule)
DECISIONS = web.AppKey("decisions", DecisionStore)  # of ingested jobs (SPEC §10)
SESSION = web.AppKey("session", aiohttp.ClientSession)
PROVIDERS = web.AppKey("providers", Providers)
RULES = web.AppKey("rules", RulesFile)  # loaded and checked before the app is built
ACTIONS = web.AppKey("actions", ActionExecutor)
# Set when the process begins to shut down: loops stop taking work, readiness fails.
STOPPING = web.AppKey("stopping", asyncio.Event)
# The one owner of the process's background loops (restarts, /readyz, shutdown).
SUPERVISOR = web.AppKey("supervisor", Supervisor)
STARTED = web.AppKey("started", float)  # time.monotonic() at app creation
