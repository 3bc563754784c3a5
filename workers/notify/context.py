"""The delivery worker's configuration from the settings.

Its aiohttp cleanup context, which wires the worker into the app, is
`service.parts.delivery_ctx`: a stage does not import the app layer.
"""

from __future__ import annotations

from service.settings import Settings
from workers.notify.delivery_policy import RetrySchedule
from workers.notify.worker import DeliveryConfig


def delivery_config(settings: Settings) -> DeliveryConfig:
    """The worker's knobs from the settings; unset retry delays keep the default schedule."""
    delays = settings.webhook_retry_delays
    schedule = RetrySchedule() if delays is None else RetrySchedule.with_delays(delays)
    return DeliveryConfig(schedule=schedule, claim_idle_ms=int(settings.claim_idle_seconds * 1000))
