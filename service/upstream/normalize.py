"""An upstream (OpenAI-shaped) job event turned into the normalized event rules read.

Here, not in service.models: the core models know nothing of a vendor's wire format.
"""

from __future__ import annotations

from service.models.event import NormalizedEvent
from service.models.ident import DEFAULT_PROVIDER
from service.models.metrics import flatten_metrics
from service.upstream.models import Job, JobEvent

MAX_MESSAGE = 16_384


def normalize(job: Job, event: JobEvent, provider: str = DEFAULT_PROVIDER) -> NormalizedEvent:
    """Build the normalized event of one upstream event of `job` (pure)."""
    message = event.message
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    return NormalizedEvent(
        job_id=job.id,
        event_id=event.id,
        created_at=max(event.created_at, 0),
        level=str(event.level),
        type=str(event.type),
        message=message,
        data=event.data,
        method=job.method_type,
        model=job.model or None,
        metadata=dict(job.metadata or {}),
        status=job.lifecycle,
        provider=provider,
        metrics=flatten_metrics(event.data),
    )
