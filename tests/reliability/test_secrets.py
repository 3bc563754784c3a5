"""Secrets never reach logs or responses, even on the paths that fail."""

from __future__ import annotations

import base64
from pathlib import Path

import aiohttp

from tests.integration.conftest import ManualSim, StartFtwatch
from tests.support import FtwatchProcess, eventually

OPENAI_KEY = "sk-secret-openai-key-0001"
API_TOKEN = "tok-secret-api-token-0002"
INBOUND = "whsec_" + base64.b64encode(b"inbound-secret-inbound-secret-01").decode()
OUTBOUND = "whsec_" + base64.b64encode(b"outbound-secret-outbound-secre02").decode()
SECRETS = [OPENAI_KEY, API_TOKEN, INBOUND, OUTBOUND, INBOUND[6:], OUTBOUND[6:]]
RULES = """
receivers:
  - {name: ops, url: "http://127.0.0.1:9/hook", format: standard, secret_env: OPS_SECRET}
rules:
  - name: finished
    when: {status: [succeeded, failed, cancelled, running]}
    do: [{notify: ops}]
"""


async def exercise(proc: FtwatchProcess) -> list[str]:
    """Call every kind of endpoint, right and wrong; return every response body."""
    bodies = []
    good = {"Authorization": f"Bearer {API_TOKEN}"}
    bad = {"Authorization": "Bearer wrong"}
    calls = [
        ("GET", "/v1/rules", {}, None),
        ("GET", "/v1/jobs", {}, None),
        ("GET", "/openapi.json", {}, None),
        ("GET", "/readyz", {}, None),
        ("POST", "/v1/jobs/ftjob-poll-0/pause", bad, None),
        ("POST", "/v1/jobs/ftjob-poll-0/pause", good, None),
        (
            "POST",
            "/v1/ingest/events",
            good,
            {"events": [{"job_id": "x", "event_id": "e", "created_at": 1}]},
        ),
        (
            "POST",
            "/v1/webhooks/openai",
            {"webhook-id": "m", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"},
            {"type": "x"},
        ),
        ("POST", "/v1/rules/validate", good, None),
    ]
    async with aiohttp.ClientSession() as http:
        for method, path, headers, body in calls:
            async with http.request(method, proc.url + path, headers=headers, json=body) as resp:
                bodies.append(await resp.text())
    return bodies


async def test_no_secret_in_logs_or_responses(
    start_ftwatch: StartFtwatch, manual_sim: ManualSim, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    proc = start_ftwatch(
        "replica-a",
        "all",
        {
            "OPENAI_API_KEY": OPENAI_KEY,
            "FTWATCH_API_TOKEN": API_TOKEN,
            "FTWATCH_WEBHOOK_SECRET": INBOUND,
            "OPS_SECRET": OUTBOUND,
            "FTWATCH_RULES": str(rules),
            "FTWATCH_LOG_LEVEL": "debug",
        },
    )
    await proc.wait_healthy()
    manual_sim.clock.advance(2)  # the jobs run: the rule fires and notifies `ops`
    bodies = await exercise(proc)

    async def delivery_failed() -> bool:
        return any(r.get("event") == "delivery_retry" for r in proc.log_records())

    await eventually(delivery_failed, timeout=15, message="a webhook delivery was attempted")
    logs = proc.log_path.read_text()
    for secret in SECRETS:
        assert secret not in logs
        assert all(secret not in body for body in bodies)
