"""POST /v1/webhooks/openai: OpenAI's webhooks (Standard Webhooks signed) nudge a poll.

OpenAI sends `fine_tuning.job.succeeded|failed|cancelled` with only the job id; the
job is made due at once, so the poller records the outcome within about a second
instead of a poll interval later.

A signed webhook can be replayed verbatim while its timestamp is within the tolerance:
its `webhook-id` is remembered (only once the signature verified) and a repeat is
answered `duplicate` and ignored. A job ftwatch does not know yet is asked of its
provider first and watched only if the provider has it: a signed webhook naming a
made-up id must not leave a job that is polled forever.
"""

from __future__ import annotations

import asyncio
import re
import time

import structlog
from aiohttp import web
from pydantic import ValidationError

from service import keys
from service.api.errors import ApiError
from service.api.routing import Routes
from service.api.schemas import JOB_ID_PATTERN, OpenAIWebhook, WebhookResult
from service.models.ident import job_key
from service.providers.config import ProviderSpec
from service.settings import Settings
from service.store import inbound
from service.store import keys as store_keys
from service.upstream.errors import NotFound, UpstreamError
from workers.notify.signing import (
    HEADER_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    TOLERANCE_SECONDS,
    WebhookVerificationError,
    verify,
)

log = structlog.get_logger(__name__)
routes = Routes("webhooks")
JOB_EVENT_PREFIX = "fine_tuning.job."
_JOB_ID = re.compile(JOB_ID_PATTERN)
# How long the one read confirming an unknown job may take (retries included); the
# sender waits for the answer. Past it the job is left to discovery.
CONFIRM_SECONDS = 10.0


def check_secret(settings: Settings) -> None:
    """Fail at start, not on the first webhook, when FTWATCH_WEBHOOK_SECRET is unusable."""
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    if not secret:
        return
    try:
        verify(secret, b"{}", {HEADER_ID: "x", HEADER_TIMESTAMP: "0", HEADER_SIGNATURE: "v1,"})
    except WebhookVerificationError:
        return  # the secret decoded; only the made-up message failed, as it should
    except ValueError as exc:
        raise ValueError("FTWATCH_WEBHOOK_SECRET is not a valid whsec_ secret") from exc


def _verified(secret: str, raw: bytes, request: web.Request) -> OpenAIWebhook:
    headers = {
        h: request.headers.get(h, "") for h in (HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE)
    }
    if not all(headers.values()):
        raise ApiError(
            400,
            "missing_signature",
            "webhook-id, webhook-timestamp and webhook-signature are required",
        )
    try:
        verify(secret, raw, headers)
    except WebhookVerificationError as exc:
        log.warning("webhook_rejected", reason=str(exc))
        raise ApiError(401, "invalid_signature", f"signature rejected: {exc}") from None
    try:
        return OpenAIWebhook.model_validate_json(raw)
    except ValidationError:
        raise ApiError(
            400,
            "invalid_payload",
            "a signed body that is not an OpenAI webhook event (id, type, created_at, data.id)",
        ) from None


async def _nudge(request: web.Request, job_id: str) -> bool:
    """Poll `job_id` now if ftwatch watches it (or would discover it)."""
    app = request.app
    if not _JOB_ID.fullmatch(job_id):
        return False
    # OpenAI's webhooks name a job of an `openai`-kind provider (never an ingested one).
    providers = [s for s in app[keys.RULES].providers if s.kind == "openai"]
    candidates = [job_key(s.name, job_id) for s in providers]
    redis = app[keys.REDIS]
    # SISMEMBER per candidate: on a cluster each job's set is its partition's.
    known = [
        k for k in candidates if await redis.sismember(store_keys.jobs(store_keys.partition(k)), k)
    ]
    if not known and len(providers) == 1 and await _discoverable(app, providers[0], job_id):
        known = candidates
    return bool(known) and await app[keys.SCHEDULE].nudge(known) > 0


async def _discoverable(app: web.Application, spec: ProviderSpec, job_id: str) -> bool:
    """Whether a job ftwatch has not seen yet is one to watch: configured, or real."""
    chosen = spec.jobs or app[keys.SETTINGS].job_ids
    if chosen:
        return job_id in chosen  # the config names the jobs to watch
    return await _upstream_has(app, spec.name, job_id)


async def _upstream_has(app: web.Application, provider: str, job_id: str) -> bool:
    """One read of the job: only a job its provider has is watched."""
    providers = app.get(keys.PROVIDERS)
    if providers is None or provider not in providers:
        return False  # this process reads no upstream: discovery will find a real job
    try:
        async with asyncio.timeout(CONFIRM_SECONDS):
            await providers[provider].get_job(job_id)
    except NotFound:
        log.info("webhook_job_not_upstream", provider=provider, job_id=job_id)
        return False
    except (UpstreamError, TimeoutError) as exc:
        # Not confirmed, not denied: leave it to discovery, which lists the real jobs.
        log.warning("webhook_job_unconfirmed", provider=provider, job_id=job_id, error=str(exc))
        return False
    return True


@routes.post(
    "/v1/webhooks/openai",
    "Receive an OpenAI webhook (signed with FTWATCH_WEBHOOK_SECRET)",
    doc_body=OpenAIWebhook,
    responses={
        401: ("Bad signature, or a timestamp over 5 minutes away.", None),
        404: ("No FTWATCH_WEBHOOK_SECRET configured: the receiver is off.", None),
    },
)
async def openai_webhook(request: web.Request) -> WebhookResult:
    """Verifies the Standard Webhooks signature over the raw body first. A
    `fine_tuning.job.*` event makes that job due for a poll at once."""
    secret = request.app[keys.SETTINGS].webhook_secret
    if secret is None or not secret.get_secret_value():
        raise ApiError(
            404,
            "not_found",
            "the OpenAI webhook receiver is off (FTWATCH_WEBHOOK_SECRET is not set)",
        )
    raw = await request.read()
    event = _verified(secret.get_secret_value(), raw, request)
    job_id = event.data.id if event.type.startswith(JOB_EVENT_PREFIX) else None
    # Verified above, so these headers are present and the timestamp is an integer.
    msg_id = request.headers[HEADER_ID]
    client = request.app[keys.REDIS]
    sent_at = int(request.headers[HEADER_TIMESTAMP])
    first = await inbound.first_sighting(
        client, msg_id, timestamp=sent_at, tolerance=TOLERANCE_SECONDS, now=time.time()
    )
    if not first:
        log.info("webhook_duplicate", type=event.type, webhook_id=msg_id, job_id=job_id)
        return WebhookResult(received=True, type=event.type, job_id=job_id, duplicate=True)
    if job_id is None:
        return WebhookResult(received=True, type=event.type)
    try:
        polled = await _nudge(request, job_id)
    except BaseException:
        await inbound.forget(client, msg_id)  # not acted on: the sender's retry may be
        raise
    log.info("webhook_received", type=event.type, job_id=job_id, polled=polled)
    return WebhookResult(received=True, type=event.type, job_id=job_id, polled=polled)
