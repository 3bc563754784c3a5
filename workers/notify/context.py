"""The delivery worker's configuration from the settings.

Its aiohttp cleanup context, which wires the worker into the app, is
`service.parts.delivery_ctx`: a stage does not import the app layer.
"""

from __future__ import annotations

import socket

from service.settings import Settings
from workers.notify.delivery_policy import RetrySchedule
from workers.notify.worker import DeliveryConfig


def delivery_config(settings: Settings) -> DeliveryConfig:
    """The worker's knobs from the settings; unset retry delays keep the default schedule."""
    delays = settings.webhook_retry_delays
    schedule = RetrySchedule() if delays is None else RetrySchedule.with_delays(delays)
    return DeliveryConfig(
        schedule=schedule,
        claim_idle_ms=int(settings.claim_idle_seconds * 1000),
        external_url=external_url(settings),
        alert_resend_seconds=settings.alert_resend_seconds,
    )


def external_url(settings: Settings) -> str:
    """FTWATCH_EXTERNAL_URL, else this host's name and the API's port (a best guess)."""
    if settings.external_url:
        return settings.external_url
    wildcard = settings.host in {"", "0.0.0.0", "::"}
    host = socket.gethostname() if wildcard else settings.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.port}"
