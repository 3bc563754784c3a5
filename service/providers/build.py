"""Build each configured provider from its config entry: one factory per kind (SPEC §4)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import aiohttp

from service.metrics import Metrics
from service.providers import azure, capabilities
from service.providers.base import Provider
from service.providers.config import AzureSpec, OpenAISpec, ProviderSpec
from service.providers.openai import OpenAICompatible
from service.providers.registry import Providers
from service.settings import Settings
from service.store import keys
from service.store.budget import RequestBudget
from service.store.scripts import Scripts
from service.upstream.client import UpstreamClient
from service.upstream.connection import Connection, bearer


@dataclass(frozen=True)
class Parts:
    """What every provider is built from: the process's session, settings and metrics."""

    session: aiohttp.ClientSession
    settings: Settings
    metrics: Metrics
    scripts: Scripts
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def client(self, connection: Connection, rate: float | None) -> UpstreamClient:
        """A client with its own request budget (shared by replicas, per provider)."""
        rate = rate or self.settings.max_requests_per_second
        key = keys.request_budget(connection.provider)
        budget = RequestBudget(self.scripts, rate, key=key) if rate else None
        return UpstreamClient(
            self.session, self.settings, self.metrics, connection=connection, budget=budget
        )


def openai(parts: Parts, spec: OpenAISpec) -> Provider:
    secret = parts.environ.get(spec.api_key_env, "")
    if spec.api_key_env == "OPENAI_API_KEY" and parts.settings.openai_api_key:
        secret = parts.settings.openai_api_key.get_secret_value()
    url = spec.base_url or parts.settings.openai_base_url
    conn = Connection(spec.name, url, secret, bearer(secret), key_env=spec.api_key_env)
    named = spec.jobs or (parts.settings.job_ids if spec.name == "openai" else [])
    client = parts.client(conn, spec.max_requests_per_second)
    return OpenAICompatible(spec.name, client, named_jobs=named)


def azure_openai(parts: Parts, spec: AzureSpec) -> Provider:
    conn = azure.connection(spec, parts.environ)
    client = parts.client(conn, spec.max_requests_per_second)
    lacking = capabilities.lacking(spec)
    return OpenAICompatible(
        spec.name, client, kind=spec.kind, lacking=lacking, named_jobs=spec.jobs
    )


# kind → factory; a new kind adds its module and one line here (tests/providers checks
# that this, the config's kinds, the capability table and the simulator's flavors agree).
FACTORIES: dict[str, Callable[[Parts, ProviderSpec], Provider]] = {
    "openai": openai,  # type: ignore[dict-item]
    "azure_openai": azure_openai,  # type: ignore[dict-item]
}


def build_providers(parts: Parts, specs: Sequence[ProviderSpec]) -> Providers:
    return Providers([FACTORIES[spec.kind](parts, spec) for spec in specs])
