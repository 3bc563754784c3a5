"""The `slack` message: the same facts in Block Kit, escaped as Slack requires."""

from __future__ import annotations

from typing import Any

from service.models.firing import ActionResult, JobFacts
from tests.notify.samples import CHECKPOINT, EXTERNAL_URL, REASON, plateau_firing, render_json
from workers.notify.payloads.slack import TEXT_MAX, clip_escaped, escape


def _mrkdwn_texts(message: dict[str, Any]) -> list[str]:
    """Every text Slack parses as mrkdwn (the fallback `text` included)."""
    texts = [message["text"]]
    for block in message["blocks"]:
        if block["type"] == "section":
            texts += [f["text"] for f in block.get("fields", [])]
            texts += [block["text"]["text"]] if "text" in block else []
        if block["type"] == "context":
            texts += [e["text"] for e in block["elements"]]
    return texts


def test_blocks_are_header_job_fields_details_and_actions() -> None:
    message = render_json("slack")
    assert [b["type"] for b in message["blocks"]] == ["header", "section", "section", "context"]
    header, fields, details, context = message["blocks"]
    assert header["text"] == {
        "type": "plain_text",
        "text": "Rule reward-plateau fired on ftjob-abc123",
    }
    assert [f["text"] for f in fields["fields"]] == [
        f"*Job*\n<{EXTERNAL_URL}/v1/jobs/openai:ftjob-abc123|ftjob-abc123>",
        "*Model*\no4-mini-2025-04-16",
        "*Method*\nreinforcement",
        "*Step*\n40",
        "*Status*\nrunning",
    ]
    assert details["text"]["text"].splitlines() == [
        REASON,
        "*Values:* best=0.615, valid_reward_mean=0.612",
        f"*Best:* 0.615 at step 37, checkpoint {CHECKPOINT}",
    ]
    assert context["elements"] == [{"type": "mrkdwn", "text": "Done: pause ok, notify ops queued"}]
    assert message["text"] == f"Rule reward-plateau fired on ftjob-abc123: {REASON}"


def test_job_is_plain_text_without_an_external_url_and_unknowns_say_so() -> None:
    firing = plateau_firing(job=JobFacts(id="ftjob-x"))
    fields = render_json("slack", firing, external_url=None)["blocks"][1]["fields"]
    assert [f["text"] for f in fields] == [
        "*Job*\nftjob-x",
        "*Model*\nunknown",
        "*Method*\nunknown",
        "*Step*\nunknown",
    ]


def test_user_text_cannot_mention_or_link() -> None:
    hostile = "<!channel> grader & co said <https://evil.example|click> > 0.5"
    firing = plateau_firing(
        reason=hostile,
        job=JobFacts(id="ftjob-<b>", model="m&m", method="<dpo>", metadata={"x": hostile}),
        actions=[ActionResult(action="pause", outcome="failed", detail="<500 & down>")],
    )
    message = render_json("slack", firing, external_url=None)
    texts = _mrkdwn_texts(message)
    for text in texts:
        assert "<!channel>" not in text
        assert "<https://evil" not in text
    joined = "\n".join(texts)
    assert escape(hostile) in joined
    assert "&lt;!channel&gt; grader &amp; co said" in joined
    assert "*Job*\nftjob-&lt;b&gt;" in joined
    assert "*Model*\nm&amp;m" in joined
    assert "pause failed (&lt;500 &amp; down&gt;)" in joined


def test_plain_text_header_is_not_escaped() -> None:
    # Slack shows plain_text literally: an escaped "&amp;" would be printed as such.
    firing = plateau_firing(rule="loss & reward")
    header = render_json("slack", firing)["blocks"][0]["text"]["text"]
    assert header == "Rule loss & reward fired on ftjob-abc123"


def test_long_texts_fit_slack_limits_without_a_broken_entity() -> None:
    firing = plateau_firing(reason="&" * 5000, rule="r" * 400)
    message = render_json("slack", firing)
    header, _, details, context = message["blocks"]
    assert len(header["text"]["text"]) <= 150
    for text in [*_mrkdwn_texts(message)]:
        assert 1 <= len(text) <= TEXT_MAX
    assert details["text"]["text"].endswith("&amp;…")
    assert message["text"].endswith("&amp;…")
    assert context["elements"][0]["text"].startswith("Done: ")


def test_clip_escaped_never_splits_an_entity() -> None:
    for size in range(2, 12):
        clipped = clip_escaped("a<b>&c" * 3, size)
        assert len(clipped) <= size
        body = clipped.removesuffix("…")
        assert body.count("&") == body.count(";")


def test_resolve_variant_says_resolved() -> None:
    message = render_json("slack", plateau_firing(resolved=True, reason="job resumed"))
    assert message["blocks"][0]["text"]["text"] == "Resolved: reward-plateau on ftjob-abc123"
