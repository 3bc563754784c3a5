"""GET /v1/rules (secrets redacted) and POST /v1/rules/validate (the `rules check` checker)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.api.conftest import Api, StartApi

RULES = """
receivers:
  - name: ops
    url: https://hooks.slack.com/services/T000/B000/very-secret-path
    format: slack
    headers: {X-Api-Key: hunter2}
rules:
  - name: plateau
    match: {method: reinforcement}
    when: {plateau: {metric: valid_reward_mean, patience: 3}}
    do: [pause, {notify: ops}, {resume: {after: 10m, max_times: 2}}]
    cooldown: 30m
"""


async def test_the_built_in_rules_are_served(api: Api) -> None:
    status, body = await api.get("/v1/rules")
    assert status == 200
    assert body["source"] == "built-in defaults"
    names = [rule["name"] for rule in body["rules"]]
    assert "reward-plateau" in names


async def test_a_rules_file_is_served_without_its_secrets(
    start_api: StartApi, tmp_path: Path
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    served = await start_api(rules=path, api_token=SecretStr("t"))
    status, body = await served.get("/v1/rules")
    assert status == 200
    assert body["receivers"] == [
        {
            "name": "ops",
            "url": "https://hooks.slack.com/…",
            "format": "slack",
            "secret_env": None,
            "timeout": 10.0,
            "headers": {"X-Api-Key": "***"},
            "max_concurrency": 4,
        }
    ]
    rule = body["rules"][0]
    assert rule["kind"] == "plateau"
    assert rule["match"] == {"method": ["reinforcement"]}
    assert rule["when"]["plateau"]["patience"] == 3
    assert rule["do"] == ["pause", "notify:ops", "resume after 10m (at most 2 times)"]
    assert rule["cooldown_seconds"] == 1800
    assert "very-secret-path" not in str(body)
    assert "hunter2" not in str(body)


async def test_each_rule_names_the_providers_that_can_carry_out_each_action(
    start_api: StartApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k")
    path = tmp_path / "rules.yaml"
    path.write_text(
        "providers:\n"
        "  - {name: openai, kind: openai}\n"
        '  - {name: az-ga, kind: azure_openai, endpoint: "https://a.example",'
        ' api_version: "2024-10-21"}\n'
        "rules:\n"
        "  - {name: p, when: {status: failed}, do: [pause, {notify: log}]}\n"
        "  - {name: c, match: {provider: az-*}, when: {status: failed}, do: [cancel]}\n"
    )
    served = await start_api(rules=path)
    status, body = await served.get("/v1/rules")
    assert status == 200
    pause, cancel = (rule["capabilities"] for rule in body["rules"])
    assert pause == {
        "pause": {
            "providers": ["openai", "ingest"],
            "notes": {"ingest": "a decision the trainer acts on: it saves a checkpoint and stops"},
            "unsupported": {
                "az-ga": "Azure's api-version 2024-10-21 has no pause; use a preview version or v1"
            },
        }
    }
    assert cancel == {"cancel": {"providers": ["az-ga"], "notes": {}, "unsupported": {}}}


async def test_validate_warns_of_an_action_only_some_providers_can_do(api: Api) -> None:
    text = (
        'providers: [{name: az, kind: azure_openai, endpoint: "https://a.example",'
        ' api_version: "2024-10-21"}]\n'
        "rules: [{name: p, when: {status: failed}, do: [resume]}]\n"
    )
    status, body = await api.post("/v1/rules/validate", data=text, auth=True)
    assert (status, body["valid"], body["errors"]) == (200, True, [])
    (warning,) = body["warnings"]
    assert warning.startswith("rules[0].do[0]: rule 'p' asks to resume: az cannot (")
    broken = text.replace("do: [resume]", "match: {provider: az}, do: [resume]")
    status, body = await api.post("/v1/rules/validate", data=broken, auth=True)
    assert (status, body["valid"]) == (200, False)
    assert body["errors"][0].startswith("rules[0].do[0]: rule 'p' asks to resume, which no")


async def test_validate_reports_every_error_with_its_location(api: Api) -> None:
    status, body = await api.post("/v1/rules/validate", data=RULES, auth=True)
    assert (status, body) == (200, {"valid": True, "errors": [], "warnings": []})
    broken = RULES.replace("patience: 3", "patience: 0").replace("[pause,", "[pause, explode,")
    status, body = await api.post("/v1/rules/validate", data=broken, auth=True)
    assert status == 200
    assert body["valid"] is False
    assert any(e.startswith("rules[0].when.plateau.patience:") for e in body["errors"])
    assert any(e.startswith("rules[0].do[1]") for e in body["errors"])
    status, body = await api.post("/v1/rules/validate", data="rules: [", auth=True)
    assert body["valid"] is False
    assert body["errors"]


@pytest.mark.parametrize("payload", [b"\xff\xfe", b""])
async def test_validate_odd_bodies(api: Api, payload: bytes) -> None:
    status, body = await api.post("/v1/rules/validate", data=payload, auth=True)
    if payload:
        assert (status, body["error"]["code"]) == (400, "invalid_body")
    else:
        assert (status, body["valid"]) == (200, False)


async def test_validate_needs_the_token(api: Api) -> None:
    # Parsing is CPU work: an anonymous caller must not be able to order it (F1).
    status, body = await api.post("/v1/rules/validate", data="rules: " + "[" * 5000)
    assert (status, body["error"]["code"]) == (401, "unauthorized")
