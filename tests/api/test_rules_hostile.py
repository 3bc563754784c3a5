"""Hostile rules files sent to POST /v1/rules/validate (issue 16, F1): refused with their
location, and never stalling the event loop, even four at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.api.conftest import Api, healthz_probe
from workers.rules.yaml_safe import MAX_NODES

RULE = "  - {name: r%d, when: {plateau: {metric: valid_loss, patience: 3}}, do: [pause]}\n"
HOSTILE = {
    # The review's three: 10 KB of brackets (3.7 s of event loop), and a 375 KB file of
    # 4,000 rules (9.3 s).
    "brackets": "rules: " + "[" * 5000 + "]" * 5000,
    "4000-rules": "rules:\n" + "".join(RULE % i for i in range(4000)),
    # Near the 1 MiB body limit: many values, deep nesting, many references.
    "values": "rules: [" + "{a: 1}, " * 110_000 + "{}]",
    "depth": "rules: [" + ("[" * 900 + "]" * 900 + ",") * 500 + "1]",
    "references": "a: &a [x]\nrules: [" + "*a, " * 240_000 + "1]",
}
WORST_HEALTHZ = 0.25  # seconds


async def validate(api: Api, text: str) -> tuple[int, Any]:
    return await api.post("/v1/rules/validate", data=text.encode(), auth=True)


@pytest.mark.parametrize("name", HOSTILE)
async def test_hostile_files_are_refused_with_their_location(api: Api, name: str) -> None:
    status, body = await validate(api, HOSTILE[name])
    assert (status, body["error"]["code"]) == (422, "rules_too_large"), body
    assert body["error"]["message"].startswith("line "), body


async def test_a_file_within_the_limits_is_checked(api: Api) -> None:
    text = "rules:\n" + "".join(RULE % i for i in range(MAX_NODES // 40))
    assert await validate(api, text) == (200, {"valid": True, "errors": [], "warnings": []})


@pytest.mark.timeout(120)
async def test_four_hostile_validations_at_once_leave_healthz_responsive(api: Api) -> None:
    # The worker process starts on the first job; its start-up is not what is measured.
    assert (await validate(api, "rules: []"))[0] == 200
    port = int(api.url.rsplit(":", 1)[1])
    texts = [HOSTILE["4000-rules"], HOSTILE["values"], HOSTILE["depth"], HOSTILE["references"]]
    with healthz_probe(port) as times:
        results = await asyncio.gather(*(validate(api, text) for text in texts))
    assert [status for status, _ in results] == [422] * 4
    assert len(times) >= 10, times  # the probe ran throughout
    assert max(times) < WORST_HEALTHZ, sorted(times)[-5:]
