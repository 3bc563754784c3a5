"""The `providers:` section of the config file (SPEC §5): one entry per upstream account.

Secrets never sit in the file: each entry names the environment variable that holds its
key (`api_key_env`), and `check_env` reports an unset one before anything starts.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from service.models.ident import DEFAULT_PROVIDER, INGEST_PROVIDER, PROVIDER_NAME

# Shared with the receivers of the same file (workers/rules/config.py).
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# Azure's GA api-version without pause/resume (providers.md §1.2), and the v1 surface.
AZURE_GA = "2024-10-21"
AZURE_V1 = "v1"


def _provider_name(value: str) -> str:
    if not PROVIDER_NAME.fullmatch(value):
        raise ValueError(
            "must be 1-63 lowercase letters, digits, '_' or '-', starting alphanumeric"
        )
    if value == INGEST_PROVIDER:
        raise ValueError(f"{INGEST_PROVIDER!r} is the built-in provider of ingested jobs")
    return value


def _env_name(value: str) -> str:
    if not ENV_NAME.fullmatch(value):
        raise ValueError("must be an environment variable name such as AZURE_OPENAI_API_KEY")
    return value


def is_http_url(value: str) -> bool:
    """An http:// or https:// URL with a host and no whitespace."""
    parts = urlsplit(value) if not any(c.isspace() for c in value) else None
    return parts is not None and parts.scheme in {"http", "https"} and bool(parts.hostname)


def _http_url(value: str) -> str:
    if not is_http_url(value):
        raise ValueError("must be an http:// or https:// URL with a host")
    return value.rstrip("/")


ProviderName = Annotated[str, AfterValidator(_provider_name)]
EnvName = Annotated[str, AfterValidator(_env_name)]
Url = Annotated[str, AfterValidator(_http_url)]
JobId = Annotated[str, Field(min_length=1, max_length=256)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)

    name: ProviderName
    jobs: list[JobId] = Field(default_factory=list)  # only these; empty: discover all
    max_requests_per_second: Annotated[float, Field(gt=0, le=10_000)] | None = None


class OpenAISpec(_Spec):
    """`kind: openai`: OpenAI's API, or anything that speaks it at `base_url`."""

    kind: Literal["openai"]
    api_key_env: EnvName = "OPENAI_API_KEY"
    base_url: Url | None = None  # default: OPENAI_BASE_URL, as the openai SDK reads it


class AzureSpec(_Spec):
    """`kind: azure_openai`: Azure OpenAI / Foundry, classic or v1 surface (SPEC §4.2)."""

    kind: Literal["azure_openai"]
    endpoint: Url | None = None
    endpoint_env: EnvName | None = None
    api_version: Annotated[str, Field(pattern=r"^(v1|preview|\d{4}-\d{2}-\d{2}(-preview)?)$")] = (
        AZURE_V1
    )
    api_key_env: EnvName = "AZURE_OPENAI_API_KEY"

    @model_validator(mode="after")
    def _one_endpoint(self) -> AzureSpec:
        if (self.endpoint is None) == (self.endpoint_env is None):
            raise ValueError("give exactly one of endpoint or endpoint_env")
        return self


class TogetherSpec(_Spec):
    """`kind: together`: Together AI (SPEC §4.3); cancel is its only action."""

    kind: Literal["together"]
    api_key_env: EnvName = "TOGETHER_API_KEY"
    # The API root (`.../v1`, or a bare host as TOGETHER_BASE_URL has it); default:
    # TOGETHER_BASE_URL, else https://api.together.ai/v1.
    base_url: Url | None = None


ProviderSpec = Annotated[OpenAISpec | AzureSpec | TogetherSpec, Field(discriminator="kind")]
# The kinds a config file may name; the factory registry must build each (a test checks).
KINDS = ("openai", "azure_openai", "together")


def default_specs() -> list[ProviderSpec]:
    """Without a `providers:` section: one OpenAI provider from OPENAI_* (SPEC §4)."""
    return [OpenAISpec(name=DEFAULT_PROVIDER, kind="openai")]


def duplicate_names(specs: Sequence[ProviderSpec]) -> list[str]:
    counts = Counter(spec.name for spec in specs)
    return sorted(name for name, n in counts.items() if n > 1)


def check_env(specs: Sequence[ProviderSpec], environ: Mapping[str, str]) -> list[str]:
    """Errors for declared providers whose key (or endpoint) variable is unset."""
    errors = []
    for index, spec in enumerate(specs):
        where = f"providers[{index}]"
        if not environ.get(spec.api_key_env) and spec.api_key_env != "OPENAI_API_KEY":
            # OPENAI_API_KEY may be unset against the simulator, as before providers.
            errors.append(
                f"{where}.api_key_env: environment variable {spec.api_key_env} is not set"
            )
        if isinstance(spec, AzureSpec) and spec.endpoint_env and not environ.get(spec.endpoint_env):
            errors.append(
                f"{where}.endpoint_env: environment variable {spec.endpoint_env} is not set"
            )
    return errors
