"""The providers of one process, by name (SPEC §4)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from service.providers.base import Provider


class UnknownProvider(LookupError):
    """A job names a provider this process was not configured with."""


class Providers(Mapping[str, Provider]):
    """The configured providers; a job's provider is looked up by the name in its key."""

    def __init__(self, providers: list[Provider]) -> None:
        self._by_name = {p.name: p for p in providers}

    def __getitem__(self, name: str) -> Provider:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(sorted(self._by_name)) or "none"
            raise UnknownProvider(f"no provider named {name!r} (configured: {known})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)
