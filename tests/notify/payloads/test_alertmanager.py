"""The `alertmanager` body: an array of postable alerts for `POST /api/v2/alerts`."""

from __future__ import annotations

from service.models.firing import JobFacts
from tests.notify.samples import (
    CHECKPOINT,
    EXTERNAL_URL,
    FIRED_AT,
    REASON,
    plateau_firing,
    render_json,
)
from workers.notify.payloads.alertmanager import FIRING_VALIDITY, fingerprint
from workers.notify.payloads.encoding import iso_time

LABELS = {
    "alertname": "reward-plateau",
    "rule": "reward-plateau",
    "provider": "openai",
    "job_id": "ftjob-abc123",
    "severity": "warning",
}


def test_a_firing_is_one_alert_with_the_spec_labels() -> None:
    [alert] = render_json("alertmanager")
    assert alert["labels"] == LABELS
    assert set(alert) == {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}


def test_the_annotations_carry_the_reason_best_value_step_and_checkpoint() -> None:
    [alert] = render_json("alertmanager")
    assert alert["annotations"]["summary"] == "Rule reward-plateau fired on ftjob-abc123"
    description = alert["annotations"]["description"]
    assert REASON in description
    assert "Best: 0.615 at step 37" in description
    assert CHECKPOINT in description
    assert "pause ok, notify ops queued" in description


def test_a_firing_ends_a_while_ahead_and_links_the_job() -> None:
    [alert] = render_json("alertmanager")
    assert alert["startsAt"] == "2025-11-22T03:00:01.250Z"
    # render_json renders one second after the firing.
    assert alert["endsAt"] == iso_time(FIRED_AT + 1 + FIRING_VALIDITY)
    assert alert["generatorURL"] == f"{EXTERNAL_URL}/v1/jobs/openai:ftjob-abc123"


def test_the_rule_severity_is_the_severity_label() -> None:
    [alert] = render_json("alertmanager", plateau_firing(severity="critical"))
    assert alert["labels"]["severity"] == "critical"


def test_resolve_has_the_same_identity_and_ends_when_resolved() -> None:
    resolve = plateau_firing(resolved=True, reason="resolved: job resumed", fired_at=1.8e9)
    [fired] = render_json("alertmanager")
    [resolved] = render_json("alertmanager", resolve)
    assert resolved["endsAt"] == "2027-01-15T08:00:00.000Z"
    assert resolved["labels"] == fired["labels"]


def test_fingerprint_is_prometheus_label_set_fingerprint() -> None:
    # Expected values from prometheus/common's model tests (labelSetToFingerprint).
    assert fingerprint({}) == "cbf29ce484222325"
    labels = {"name": "garland, briggs", "fear": "love is not enough"}
    assert fingerprint(labels) == f"{5799056148416392346:016x}"


def test_without_an_external_url_there_is_no_generator_url() -> None:
    # Alertmanager answers 422 to a generatorURL that is not a URI: none is better.
    [alert] = render_json(
        "alertmanager", plateau_firing(job=JobFacts(id="ftjob-x")), external_url=None
    )
    assert "generatorURL" not in alert
