"""The seams agree: every kind a config file may name is built and simulated."""

from __future__ import annotations

import aiohttp
import pytest
import redis.asyncio as aioredis

from service.metrics import Metrics
from service.providers.base import ACTIONS
from service.providers.build import FACTORIES, Parts, build_providers
from service.providers.capabilities import CAPABILITIES, lacking
from service.providers.config import KINDS, AzureSpec, OpenAISpec, ProviderSpec, check_env
from service.settings import Settings
from service.store.scripts import Scripts
from simulator.flavors import FLAVORS
from workers.rules.errors import RulesError
from workers.rules.loading import parse_rules_text

# The simulator flavors that fake each kind (SPEC §4.4).
FLAVORS_OF = {"openai": {"openai"}, "azure_openai": {"azure", "azure-v1"}}
RULE = "rules: [{name: r, when: {stalled: {for: 1m}}, do: [{notify: log}]}]\n"


# One config entry of each kind (and each capability variant of a kind).
SPECS: list[ProviderSpec] = [
    OpenAISpec(name="openai", kind="openai"),
    AzureSpec(name="az-v1", kind="azure_openai", endpoint="https://a.example"),
    AzureSpec(
        name="az-preview",
        kind="azure_openai",
        endpoint="https://a.example",
        api_version="2025-04-01-preview",
    ),
    AzureSpec(
        name="az-ga", kind="azure_openai", endpoint="https://a.example", api_version="2024-10-21"
    ),
]


def test_every_kind_has_a_factory_capabilities_and_a_simulator_flavor() -> None:
    assert set(KINDS) == set(FACTORIES) == set(CAPABILITIES) == set(FLAVORS_OF)
    assert set().union(*FLAVORS_OF.values()) <= set(FLAVORS)
    assert {spec.kind for spec in SPECS} == set(KINDS)


async def test_the_capability_table_is_what_each_built_provider_supports(
    settings: Settings, redis: aioredis.Redis
) -> None:
    # What `rules check` and GET /v1/rules are told is what the executor finds at runtime.
    environ = {"AZURE_OPENAI_API_KEY": "k"}
    async with aiohttp.ClientSession() as http:
        parts = Parts(http, settings, Metrics(), Scripts(redis), environ=environ)
        providers = build_providers(parts, SPECS)
    for spec in SPECS:
        built = {a: providers[spec.name].supports(a) for a in ACTIONS}
        assert built == {a: lacking(spec).get(a) for a in ACTIONS}, spec.name
    assert set(lacking(SPECS[-1])) == {"pause", "resume"}
    assert "2024-10-21" in lacking(SPECS[-1])["pause"]
    assert [lacking(s) for s in SPECS[:3]] == [{}, {}, {}]


def test_without_a_section_there_is_one_openai_provider() -> None:
    rules = parse_rules_text(RULE)
    assert [(p.name, p.kind) for p in rules.providers] == [("openai", "openai")]


def test_bad_providers_are_located_errors() -> None:
    text = """providers:
  - {name: ingest, kind: openai}
  - {name: az, kind: azure_openai, endpoint: "not a url"}
  - {name: az, kind: azure_openai}
  - {name: x, kind: together}
"""
    with pytest.raises(RulesError) as caught:
        parse_rules_text(text + RULE)
    errors = caught.value.errors
    assert "providers[0].name: 'ingest' is the built-in provider of ingested jobs" in errors
    assert "providers[1].endpoint: must be an http:// or https:// URL with a host" in errors
    assert "providers[2]: give exactly one of endpoint or endpoint_env" in errors
    assert any(e.startswith("providers[3]: ") and "'together'" in e for e in errors)


def test_duplicate_names_are_refused() -> None:
    text = "providers: [{name: a, kind: openai}, {name: a, kind: openai}]\n"
    with pytest.raises(RulesError) as caught:
        parse_rules_text(text + RULE)
    assert caught.value.errors == ["providers: provider names must be unique: a"]


def test_unset_key_and_endpoint_variables_are_named() -> None:
    specs: list[ProviderSpec] = [
        OpenAISpec(name="openai", kind="openai"),  # may be unset against the simulator
        AzureSpec(name="az", kind="azure_openai", endpoint_env="AZ_ENDPOINT"),
    ]
    assert check_env(specs, {}) == [
        "providers[1].api_key_env: environment variable AZURE_OPENAI_API_KEY is not set",
        "providers[1].endpoint_env: environment variable AZ_ENDPOINT is not set",
    ]
    assert check_env(specs, {"AZURE_OPENAI_API_KEY": "k", "AZ_ENDPOINT": "https://x"}) == []
