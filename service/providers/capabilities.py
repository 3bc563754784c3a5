"""What each provider kind can do, from its config entry alone (SPEC §4): no network.

`rules check`, `GET /v1/rules` and the built providers' `supports()` read this one table,
so what a rules file is told before anything runs is what the executor finds at runtime
(tests/providers/test_registry.py builds each kind and compares).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from service.models.ident import INGEST_PROVIDER
from service.providers import azure
from service.providers.base import Action
from service.providers.config import AzureSpec, ProviderSpec

__all__ = ["CAPABILITIES", "INGEST_NOTES", "Lacking", "lacking", "notes"]

# The actions a provider cannot carry out, each with the reason in words.
Lacking = Mapping[Action, str]


def _openai(spec: ProviderSpec) -> Lacking:
    del spec
    return {}  # pause, resume and cancel (SPEC §4.1)


def _azure_openai(spec: ProviderSpec) -> Lacking:
    if not isinstance(spec, AzureSpec):
        raise TypeError(f"an azure_openai entry expected, got {spec.kind}")
    return azure.lacking(spec.api_version)


# kind → what it lacks, given its config entry. A new kind adds one line here (the
# agreement test in tests/providers/test_registry.py names a missing one).
CAPABILITIES: dict[str, Callable[[ProviderSpec], Lacking]] = {
    "openai": _openai,
    "azure_openai": _azure_openai,
    # "together": lambda spec: together.LACKING,  # the lead wires this line at the merge
}

# The built-in `ingest` provider lacks nothing, but calls nothing either: each action is
# a decision its trainer acts on (SPEC §10). A resume reaches only a trainer that waits
# for it after pausing, which ftwatch cannot know from the config: it is shown as a note
# beside the providers that can resume, not refused (see workers/rules/capability_check).
INGEST_NOTES: Mapping[Action, str] = {
    "pause": "a decision the trainer acts on: it saves a checkpoint and stops",
    "resume": "a decision only a trainer that waits after pausing can act on",
    "cancel": "a decision the trainer acts on: it stops",
}


def lacking(spec: ProviderSpec) -> Lacking:
    """The actions the provider of `spec` cannot carry out, with the reason."""
    return CAPABILITIES[spec.kind](spec)


def notes(provider: str) -> Mapping[Action, str]:
    """Caveats of actions a provider does carry out (the ingest provider's decisions)."""
    return INGEST_NOTES if provider == INGEST_PROVIDER else {}
