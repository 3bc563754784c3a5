"""ftwatch as an alert producer, against a real Alertmanager: firing, re-sent, resolved."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from pydantic import SecretStr

from service.app import create_app
from service.settings import Settings
from simulator.app import create_app as create_simulator
from simulator.presets import default_scenario
from tests.alerting.conftest import Alertmanager, config
from tests.support import eventually, served
from workers.rules.loading import parse_rules_text

PLATEAU = "ftjob-demo-rft-plateau"
TOKEN = "alerting-test-token"
EXTERNAL_URL = "http://ftwatch.example.test:8080"
RULES = """
receivers:
  - {{name: am, url: "{url}", format: alertmanager}}
rules:
  - name: reward-plateau
    match: {{method: reinforcement}}
    severity: critical
    when: {{plateau: {{metric: valid_reward_mean, mode: max, patience: 3, min_delta: 0.01}}}}
    do: {do}
    cooldown: 1h
"""


@contextlib.asynccontextmanager
async def ftwatch(settings: Settings, am: Alertmanager, do: str) -> AsyncIterator[str]:
    """The demo jobs on the simulator, watched by ftwatch with one plateau rule."""
    async with served(create_simulator(default_scenario(step_period=0.25))) as sim_url:
        app_settings = settings.model_copy(
            update={
                "openai_base_url": f"{sim_url}/v1",
                "poll_interval": 0.2,
                "rule_tick_interval": 0.2,
                "api_token": SecretStr(TOKEN),
                "external_url": EXTERNAL_URL,
                "alert_resend_seconds": 0.3,
            }
        )
        rules = parse_rules_text(RULES.format(url=am.url, do=do))
        async with served(create_app(app_settings, role="all", rules=rules)) as url:
            yield url


async def the_one_alert(am: Alertmanager) -> dict[str, Any]:
    """The plateau job's alert ({} while there is none); never two."""
    found = await am.alerts(job_id=PLATEAU)
    assert len(found) <= 1, f"duplicated: {found}"
    return found[0] if found else {}


async def resent(am: Alertmanager, first: dict[str, Any]) -> dict[str, Any]:
    """The alert once a re-send has updated it (there is still one)."""
    alert = await the_one_alert(am)
    return alert if alert and alert["updatedAt"] != first["updatedAt"] else {}


def gone(am: Alertmanager) -> Callable[[], Any]:
    async def probe() -> bool:
        return not await am.alerts(job_id=PLATEAU)

    return probe


async def test_a_plateau_shows_once_with_its_facts_and_resolves_when_the_job_finishes(
    settings: Settings, start_alertmanager: Callable[..., Any]
) -> None:
    am: Alertmanager = await start_alertmanager(config())
    async with ftwatch(settings, am, "[{notify: am}]"):
        alert = await eventually(
            lambda: the_one_alert(am), timeout=30, interval=0.05, message="no alert"
        )
        assert alert["labels"] == {
            "alertname": "reward-plateau",
            "rule": "reward-plateau",
            "provider": "openai",
            "job_id": PLATEAU,
            "severity": "critical",
        }
        assert alert["annotations"]["summary"] == f"Rule reward-plateau fired on {PLATEAU}"
        description = alert["annotations"]["description"]
        assert "has not improved on" in description and " at step " in description
        assert alert["generatorURL"] == f"{EXTERNAL_URL}/v1/jobs/openai:{PLATEAU}"
        assert alert["status"]["state"] == "active"
        # Re-sent (updatedAt moves) but never duplicated (the_one_alert checks each time).
        again = await eventually(lambda: resent(am, alert), timeout=10, message="no re-send")
        assert again["startsAt"] == alert["startsAt"]
        # The job runs on to success: its alert is resolved and leaves the active list.
        await eventually(gone(am), timeout=30, interval=0.05, message="not resolved")


async def test_a_paused_job_resumed_resolves_its_alert(
    settings: Settings, start_alertmanager: Callable[..., Any]
) -> None:
    am: Alertmanager = await start_alertmanager(config())
    async with ftwatch(settings, am, "[pause, {notify: am}]") as url:
        await eventually(lambda: the_one_alert(am), timeout=30, interval=0.05, message="no alert")
        async with aiohttp.ClientSession() as http:

            async def paused() -> bool:
                async with http.get(f"{url}/v1/jobs/{PLATEAU}") as resp:
                    return bool((await resp.json())["status"] == "paused")

            await eventually(paused, timeout=20, interval=0.05, message="not paused")
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with http.post(f"{url}/v1/jobs/{PLATEAU}/resume", headers=headers) as resp:
                assert resp.status == 200, await resp.text()
        await eventually(gone(am), timeout=30, interval=0.05, message="not resolved")
