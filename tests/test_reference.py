"""docs/api.md and docs/metrics.md are what the code generates: never stale."""

from __future__ import annotations

import pytest

from service.reference import DOCS, PAGES


@pytest.mark.parametrize("name", PAGES)
def test_the_reference_page_matches_the_code(name: str) -> None:
    written = (DOCS / name).read_text(encoding="utf-8")
    assert written == PAGES[name](), f"docs/{name} is stale: run python -m service.reference"


def test_every_metric_and_route_is_on_its_page() -> None:
    assert "| `ftwatch_actions_total` | counter | `action`, `outcome` |" in PAGES["metrics.md"]()
    assert "### `POST /v1/ingest/events`" in PAGES["api.md"]()
