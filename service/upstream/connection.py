"""Where and how one provider's OpenAI-compatible API is reached: URL, auth, query, names.

The same client serves OpenAI and Azure OpenAI; what differs is here (SPEC §4.1, §4.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from service.settings import Settings

# Response headers that name the request, for support tickets: OpenAI's, then Azure's.
REQUEST_ID_HEADERS = ("x-request-id", "apim-request-id")


@dataclass(frozen=True)
class Connection:
    """One provider's base URL, auth headers and fixed query, and the env vars behind them."""

    provider: str
    base_url: str
    secret: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    # The env vars a user sets to fix a failing call; errors name them.
    key_env: str = "OPENAI_API_KEY"
    url_env: str = "OPENAI_BASE_URL"
    url_hint: str = "it usually ends in /v1"


def bearer(secret: str) -> dict[str, str]:
    """No key, no header: upstream answers 401 and the error names the unset variable."""
    return {"Authorization": f"Bearer {secret}"} if secret else {}


def openai_connection(settings: Settings, name: str = "openai") -> Connection:
    """The default provider: OPENAI_API_KEY / OPENAI_BASE_URL (SPEC §3)."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    return Connection(name, settings.openai_base_url, key, bearer(key))
