"""Job identity: a job is (provider, upstream id), written `<provider>:<id>` (SPEC §4)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# No colon in a provider name, so a key splits at its first colon even when an
# ingested run's own id has colons in it.
PROVIDER_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
# The provider of a deployment without a `providers:` section (SPEC §4), and the
# built-in one of jobs whose trainer pushes its events.
DEFAULT_PROVIDER = "openai"
INGEST_PROVIDER = "ingest"


@dataclass(frozen=True, order=True)
class JobRef:
    """Which job: the provider's name and the id the provider gave it."""

    provider: str
    id: str

    @property
    def key(self) -> str:
        """The job's name in Redis keys, the stream, rule state and action claims."""
        return f"{self.provider}:{self.id}"

    @classmethod
    def parse(cls, key: str) -> JobRef:
        """Split a key; a key without a provider is the default provider's (old data)."""
        provider, sep, job_id = key.partition(":")
        if sep and PROVIDER_NAME.fullmatch(provider):
            return cls(provider, job_id)
        return cls(DEFAULT_PROVIDER, key)


def job_key(provider: str, job_id: str) -> str:
    """`<provider>:<id>`, the internal name of a job."""
    return f"{provider}:{job_id}"
