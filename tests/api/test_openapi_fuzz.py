"""schemathesis against /openapi.json: no 5xx, and every response matches the document.

The app runs on its own thread and event loop (schemathesis calls it synchronously), on
a real port against the test's redis-server, seeded so list endpoints return content.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.request import urlopen

import pytest
import redis
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.api.openapi import build_openapi
from service.api.setup import routes_for
from service.app import create_app
from service.models.audit import action_record
from service.models.firing import ActionResult, Firing, JobFacts
from service.settings import Settings
from service.store import keys
from service.store.audit import ACTION_FIELD
from tests.api.conftest import AUTH, TOKEN, WEBHOOK_SECRET

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


class ThreadedApp:
    """The ftwatch app served from a background thread until `stop`."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="api", daemon=True)
        self.url = ""

    def start(self) -> str:
        self._thread.start()
        assert self._ready.wait(15), "the app did not start"
        return self.url

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        runner = web.AppRunner(create_app(self._settings, role="api"), access_log=None)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(20)


def _seed(url: str) -> None:
    """A job with metrics (one non-finite), an audit entry and a parked delivery."""
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        client.sadd(keys.JOBS, "openai:ftjob-seeded")
        client.hset(
            keys.job("openai:ftjob-seeded"),
            mapping={
                "status": "running",
                "step": "3",
                "provider": "openai",
                "metrics": json.dumps({"train_loss": float("nan"), "valid_loss": 0.4}),
                "metadata": json.dumps({"team": "search"}),
            },
        )
        firing = Firing(
            firing_id="f1",
            rule="plateau",
            kind="plateau",
            job=JobFacts(id="ftjob-seeded"),
            reason="flat",
            fired_at=1.0,
            best=float("inf"),
        )
        client.xadd(keys.ACTIONS_STREAM, {"f": firing.model_dump_json()})
        done = ActionResult(action="pause", outcome="ok", at=2.0)
        record = action_record(firing, done, "ckpt")
        client.xadd(keys.ACTIONS_STREAM, {ACTION_FIELD: record.model_dump_json()})
        legacy = firing.model_copy(update={"stage": "action", "actions": [done]})
        client.xadd(keys.ACTIONS_STREAM, {"f": legacy.model_dump_json()})  # before issue 18
        dead = {
            "id": "msg_1",
            "receiver": "ops",
            "firing": json.loads(firing.model_dump_json()),
            "attempts": [{"error": "HTTP 500"}],
        }
        client.xadd(keys.DEAD_DELIVERIES_STREAM, {"d": json.dumps(dead)})
    finally:
        client.close()


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    assert settings.redis_url
    _seed(settings.redis_url)
    app = ThreadedApp(
        settings.model_copy(
            update={"api_token": SecretStr(TOKEN), "webhook_secret": SecretStr(WEBHOOK_SECRET)}
        )
    )
    url = app.start()
    try:
        yield url
    finally:
        app.stop()


# The document the app serves (checked against the served one below), loaded at
# collection so that every operation becomes its own test.
DOCUMENT = build_openapi(routes_for("api"), title="ftwatch", version="test")
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_fuzzed_document_is_the_served_one(served: str) -> None:
    with urlopen(f"{served}/openapi.json", timeout=10) as response:
        served_doc = json.load(response)
    assert served_doc | {"info": None} == DOCUMENT | {"info": None}


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_document(case: Any, served: str) -> None:
    case.call_and_validate(base_url=served, headers=dict(AUTH), checks=CHECKS)
