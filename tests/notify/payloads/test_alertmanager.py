"""The `alertmanager` body: webhook payload version 4 that Alertmanager tooling can consume."""

from __future__ import annotations

from service.models.firing import JobFacts
from tests.notify.samples import CHECKPOINT, EXTERNAL_URL, REASON, plateau_firing, render_json
from workers.notify.payloads.alertmanager import fingerprint

LABELS = {
    "alertname": "reward-plateau",
    "provider": "openai",
    "job_id": "ftjob-abc123",
    "rule": "reward-plateau",
    "model": "o4-mini-2025-04-16",
    "method": "reinforcement",
    "severity": "warning",
}


def test_envelope_is_version_4() -> None:
    body = render_json("alertmanager")
    assert body["version"] == "4"
    assert body["status"] == "firing"
    assert body["receiver"] == "ops"
    assert body["truncatedAlerts"] == 0
    assert body["groupLabels"] == {
        "alertname": "reward-plateau",
        "provider": "openai",
        "job_id": "ftjob-abc123",
    }
    assert (
        body["groupKey"]
        == '{}:{alertname="reward-plateau", job_id="ftjob-abc123", provider="openai"}'
    )
    assert body["commonLabels"] == LABELS
    assert body["commonAnnotations"] == body["alerts"][0]["annotations"]
    assert body["externalURL"] == EXTERNAL_URL


def test_the_alert_carries_the_facts() -> None:
    [alert] = render_json("alertmanager")["alerts"]
    assert alert["status"] == "firing"
    assert alert["labels"] == LABELS
    assert alert["annotations"]["summary"] == "Rule reward-plateau fired on ftjob-abc123"
    description = alert["annotations"]["description"]
    assert REASON in description
    assert "valid_reward_mean=0.612" in description
    assert CHECKPOINT in description
    assert "pause ok, notify ops queued" in description
    assert alert["startsAt"] == "2025-11-22T03:00:01.250Z"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["generatorURL"] == f"{EXTERNAL_URL}/v1/jobs/openai:ftjob-abc123"
    assert alert["fingerprint"] == fingerprint(LABELS)


def test_resolve_has_the_same_identity_and_an_end() -> None:
    firing = plateau_firing(firing_id="fir_other_episode")
    resolve = plateau_firing(resolved=True, reason="job resumed", actions=[], fired_at=1.8e9)
    fired = render_json("alertmanager", firing)
    resolved = render_json("alertmanager", resolve)
    assert resolved["status"] == "resolved"
    assert resolved["alerts"][0]["status"] == "resolved"
    assert resolved["alerts"][0]["endsAt"] == "2027-01-15T08:00:00.000Z"
    assert resolved["alerts"][0]["labels"] == fired["alerts"][0]["labels"]
    assert resolved["alerts"][0]["fingerprint"] == fired["alerts"][0]["fingerprint"]
    assert resolved["groupKey"] == fired["groupKey"]


def test_fingerprint_is_prometheus_label_set_fingerprint() -> None:
    # Expected values from prometheus/common's model tests (labelSetToFingerprint).
    assert fingerprint({}) == "cbf29ce484222325"
    labels = {"name": "garland, briggs", "fear": "love is not enough"}
    assert fingerprint(labels) == f"{5799056148416392346:016x}"


def test_unknown_model_and_method_are_left_out_of_the_labels() -> None:
    body = render_json(
        "alertmanager", plateau_firing(job=JobFacts(id="ftjob-x")), external_url=None
    )
    assert set(body["alerts"][0]["labels"]) == {
        "alertname",
        "provider",
        "job_id",
        "rule",
        "severity",
    }
    assert body["externalURL"] == ""
    assert body["alerts"][0]["generatorURL"] == ""


def test_group_key_quotes_label_values() -> None:
    body = render_json("alertmanager", plateau_firing(rule='say "hi"\\now'))
    assert (
        body["groupKey"]
        == '{}:{alertname="say \\"hi\\"\\\\now", job_id="ftjob-abc123", provider="openai"}'
    )
