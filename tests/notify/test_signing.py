"""Standard Webhooks signatures, checked against an independent HMAC and the package."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

import pytest
from standardwebhooks import Webhook

from tests.notify.samples import EXTERNAL_URL, plateau_firing
from workers.notify.payloads import render
from workers.notify.signing import WebhookVerificationError, sign, verify, webhook_id

KEY = b"ftwatch-test-key-32-bytes-long!!"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
Tamper = Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]]


def _body() -> bytes:
    return render("standard", plateau_firing(), now=time.time(), external_url=EXTERNAL_URL).body


def _independent_signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The spec, written out: HMAC-SHA256 over `{id}.{timestamp}.{body}`, base64, `v1,`."""
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def test_signature_matches_an_independent_hmac_of_the_spec() -> None:
    body = _body()
    msg_id = webhook_id("fir_0b3c9d2e", "ops")
    headers = sign(SECRET, msg_id, 1_763_780_402, body)
    assert headers == {
        "webhook-id": msg_id,
        "webhook-timestamp": "1763780402",
        "webhook-signature": _independent_signature(KEY, msg_id, 1_763_780_402, body),
    }


def test_the_standardwebhooks_verifier_accepts_what_we_sign() -> None:
    body = _body()
    headers = sign(SECRET, webhook_id("fir_0b3c9d2e", "ops"), int(time.time()), body)
    payload = Webhook(SECRET).verify(body, headers)
    assert payload["data"]["job"]["id"] == "ftjob-abc123"


def test_verify_accepts_a_genuine_request_with_any_header_case() -> None:
    body = _body()
    headers = sign(SECRET, "msg_1", int(time.time()), body)
    verify(SECRET, body, {k.title(): v for k, v in headers.items()})


def test_verify_accepts_when_any_of_several_signatures_matches() -> None:
    body = _body()
    now = int(time.time())
    headers = sign(SECRET, "msg_1", now, body)
    other = _independent_signature(b"rotated-out-old-key", "msg_1", now, body)
    headers["webhook-signature"] = f"{other} {headers['webhook-signature']}"
    verify(SECRET, body, headers)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b.replace(b"ftjob-abc123", b"ftjob-evil00")),
        lambda h, b: ({**h, "webhook-id": "msg_other"}, b),
        lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b),
        lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b),
        lambda h, b: ({**h, "webhook-signature": "v1"}, b),
        lambda h, b: ({**h, "webhook-signature": "v1,%%%not-base64"}, b),
        lambda h, b: ({**h, "webhook-signature": "v2," + h["webhook-signature"][3:]}, b),
        lambda h, b: ({**h, "webhook-timestamp": "yesterday"}, b),
        lambda h, b: (h, b"\xff\xfe" + b),
    ],
    ids=[
        "body",
        "id",
        "timestamp",
        "missing-signature",
        "no-comma",
        "bad-base64",
        "unknown-version",
        "non-numeric-timestamp",
        "not-utf8",
    ],
)
def test_verify_rejects_anything_tampered_or_malformed(tamper: Tamper) -> None:
    body = _body()
    headers, body = tamper(sign(SECRET, "msg_1", int(time.time()), body), body)
    with pytest.raises(WebhookVerificationError):
        verify(SECRET, body, headers)


def test_verify_rejects_another_secret() -> None:
    body = _body()
    headers = sign(SECRET, "msg_1", int(time.time()), body)
    other = "whsec_" + base64.b64encode(b"another-key-another-key-another!").decode()
    with pytest.raises(WebhookVerificationError):
        verify(other, body, headers)


@pytest.mark.parametrize("offset", [-301, 301])
def test_verify_rejects_timestamps_more_than_five_minutes_away(offset: int) -> None:
    body = _body()
    headers = sign(SECRET, "msg_1", int(time.time()) + offset, body)
    with pytest.raises(WebhookVerificationError):
        verify(SECRET, body, headers)


def test_verify_accepts_a_timestamp_four_minutes_old() -> None:
    body = _body()
    verify(SECRET, body, sign(SECRET, "msg_1", int(time.time()) - 240, body))


def test_webhook_id_is_the_same_for_every_retry_of_a_firing_to_a_receiver() -> None:
    first = webhook_id("fir_0b3c9d2e", "ops")
    assert first == webhook_id("fir_0b3c9d2e", "ops")
    assert first.startswith("msg_")
    assert len(first) <= 40
    others = {
        webhook_id("fir_0b3c9d2e", "slack"),
        webhook_id("fir_1111", "ops"),
        webhook_id("fir_0b3c9d2e\x00ops", ""),
    }
    assert first not in others
    assert len(others) == 3


def test_an_empty_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        sign("whsec_", "msg_1", 1, b"{}")
