"""Helpers for the Azure flavor tests: the SDK clients Azure users build, raw requests."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import openai

from simulator.scenario import JobSpec, Scenario
from tests.simulator.conftest import Sim

T = TypeVar("T")

KEY = "azure-test-key"
PREVIEW = "2025-04-01-preview"
GA = "2024-10-21"
JOBS = [f"ftjob-az-{i}" for i in range(5)]  # oldest first
CLASSIC_JOBS = "/openai/fine_tuning/jobs"
V1_JOBS = "/openai/v1/fine_tuning/jobs"


def fleet() -> Scenario:
    """Five SFT jobs: running after 2 s, a step a second, a checkpoint every 2 steps."""
    return Scenario(jobs=[JobSpec(id=job_id, eval_interval=2) for job_id in JOBS])


def classic_client(sim: Sim, api_version: str = PREVIEW, api_key: str = KEY) -> openai.AzureOpenAI:
    """What an Azure classic user builds: endpoint, `api-key`, a dated api-version."""
    return openai.AzureOpenAI(
        azure_endpoint=sim.url, api_key=api_key, api_version=api_version, max_retries=0
    )


def v1_client(sim: Sim, api_key: str = KEY) -> openai.OpenAI:
    """What an Azure v1 user builds: the plain client on `{endpoint}/openai/v1/`, Bearer key."""
    return openai.OpenAI(base_url=sim.url + "/openai/v1/", api_key=api_key, max_retries=0)


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a sync SDK call off the event loop that serves the simulator."""
    return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))


async def sdk_error(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> openai.APIStatusError:
    """The APIStatusError a sync SDK call raises (the test fails if it succeeds)."""
    try:
        await call(fn, *args, **kwargs)
    except openai.APIStatusError as exc:
        return exc
    raise AssertionError(f"{fn} succeeded")


@dataclass
class Raw:
    status: int
    headers: dict[str, str]
    body: Any


async def raw(sim: Sim, method: str, path: str, headers: dict[str, str], **params: str) -> Raw:
    """One plain HTTP request, without the SDK's conventions."""
    async with sim.http.request(method, sim.url + path, params=params, headers=headers) as resp:
        return Raw(resp.status, dict(resp.headers), await resp.json())


def assert_uuid(value: str) -> None:
    assert str(uuid.UUID(value)) == value
