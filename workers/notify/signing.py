"""Standard Webhooks signing (outbound) and verification (inbound), via `standardwebhooks`."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime

from standardwebhooks.webhooks import (
    EmptyWebhookSecretError,
    Webhook,
    WebhookVerificationError,
)

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
_HEADERS = (HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE)
# The package rejects timestamps more than this far from now, both ways (replay window).
TOLERANCE_SECONDS = 300


def _webhook(secret: str) -> Webhook:
    """The package's signer; secrets are `whsec_<base64 key>` (OpenAI's and SPEC §5's form)."""
    try:
        return Webhook(secret)
    except EmptyWebhookSecretError as exc:  # not a ValueError in the package
        raise ValueError("webhook secret may not be empty") from exc


def webhook_id(firing_id: str, receiver: str) -> str:
    """The message id of one firing for one receiver: every retry carries the same one."""
    key = f"{firing_id}\x00{receiver}".encode("utf-8", "surrogatepass")
    return "msg_" + hashlib.sha256(key).hexdigest()[:32]


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three `webhook-*` headers for `body`, sent at `timestamp` (unix seconds)."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    signature = _webhook(secret).sign(msg_id, moment, body.decode("utf-8"))
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: signature,
    }


def verify(secret: str, body: bytes, headers: Mapping[str, str]) -> None:
    """Check a signed request's raw body; raise WebhookVerificationError when it is not genuine.

    Also rejects timestamps more than 5 minutes old or ahead (replays); parse JSON only after.
    """
    wanted = {k.lower(): v for k, v in headers.items() if k.lower() in _HEADERS}
    webhook = _webhook(secret)
    try:
        webhook.verify(body, wanted, json_parse=False)
    except WebhookVerificationError:
        raise
    except ValueError as exc:
        # A malformed signature entry (no comma, bad base64) or a body that is not UTF-8.
        raise WebhookVerificationError(f"malformed webhook: {exc}") from exc


__all__ = [
    "HEADER_ID",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "TOLERANCE_SECONDS",
    "WebhookVerificationError",
    "sign",
    "verify",
    "webhook_id",
]
