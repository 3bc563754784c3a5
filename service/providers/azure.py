"""Azure OpenAI / Microsoft Foundry (SPEC §4.2, providers.md §1): OpenAI's job, event and
checkpoint shapes behind another URL and auth, so it reuses the OpenAI-compatible client.

Classic surface: `{endpoint}/openai/...?api-version=<date>`, header `api-key`.
v1 surface: `{endpoint}/openai/v1/...`, `Authorization: Bearer <key>`, no api-version.
"""

from __future__ import annotations

from collections.abc import Mapping

from service.providers.base import Action
from service.providers.config import AZURE_GA, AZURE_V1, AzureSpec
from service.upstream.connection import Connection, bearer

# The v1 surface takes no api-version, or `preview` for preview features (§1.1).
V1_VERSIONS = frozenset({AZURE_V1, "preview"})

# GA 2024-10-21 has no pause/resume (providers.md §1.2); preview versions and v1 do.
_GA_LACKS = "Azure's api-version 2024-10-21 has no {action}; use a preview version or v1"


def connection(spec: AzureSpec, environ: Mapping[str, str]) -> Connection:
    endpoint = spec.endpoint or environ.get(spec.endpoint_env or "", "")
    endpoint = endpoint.rstrip("/")
    secret = environ.get(spec.api_key_env, "")
    url_env = spec.endpoint_env or f"providers[{spec.name}].endpoint"
    if spec.api_version in V1_VERSIONS:
        return Connection(
            spec.name,
            f"{endpoint}/openai/v1",
            secret,
            bearer(secret),
            {} if spec.api_version == AZURE_V1 else {"api-version": spec.api_version},
            key_env=spec.api_key_env,
            url_env=url_env,
            url_hint="the resource's https://<name>.openai.azure.com",
        )
    return Connection(
        spec.name,
        f"{endpoint}/openai",
        secret,
        {"api-key": secret} if secret else {},
        {"api-version": spec.api_version},
        key_env=spec.api_key_env,
        url_env=url_env,
        url_hint="the resource's https://<name>.openai.azure.com",
    )


def lacking(api_version: str) -> dict[Action, str]:
    """The actions an api-version does not have, with the reason."""
    if api_version != AZURE_GA:
        return {}
    return {a: _GA_LACKS.format(action=a) for a in ("pause", "resume")}
