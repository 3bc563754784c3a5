"""The `slack` message: Block Kit that slack_sdk accepts, escaped as Slack requires."""

from __future__ import annotations

from typing import Any

from service.models.firing import ActionResult, JobFacts
from tests.notify.judges import slack_problems
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


def test_blocks_are_header_reason_and_figures_context_and_link() -> None:
    message = render_json("slack")
    assert slack_problems(message) == []
    assert [b["type"] for b in message["blocks"]] == ["header", "section", "context", "section"]
    header, section, context, link = message["blocks"]
    assert header["text"]["text"] == "Rule reward-plateau fired on ftjob-abc123"
    assert section["text"]["text"] == REASON
    assert [f["text"] for f in section["fields"]] == [
        "*Values*\nbest=0.615, valid_reward_mean=0.612",
        "*Best*\n0.615 at step 37",
        f"*Checkpoint*\n{CHECKPOINT}",
        "*Step*\n40",
        "*Status*\nrunning",
        "*Actions*\npause ok, notify ops queued",
    ]
    assert [e["text"] for e in context["elements"]] == [
        "provider *openai*",
        "job *ftjob-abc123*",
        "rule *reward-plateau*",
        "model *o4-mini-2025-04-16*",
        "method *reinforcement*",
    ]
    url = f"{EXTERNAL_URL}/v1/jobs/openai:ftjob-abc123"
    assert link["text"]["text"] == f"<{url}|Open ftjob-abc123 in ftwatch>"
    assert message["text"] == (
        f"Rule reward-plateau fired on ftjob-abc123: {REASON}; best checkpoint {CHECKPOINT}"
    )


def test_without_an_external_url_there_is_no_link_and_unknowns_are_left_out() -> None:
    firing = plateau_firing(
        job=JobFacts(id="ftjob-x"), values={}, best=None, best_step=None, checkpoint=None
    )
    message = render_json("slack", firing, external_url=None)
    assert slack_problems(message) == []
    assert [b["type"] for b in message["blocks"]] == ["header", "section", "context"]
    fields = message["blocks"][1]["fields"]
    assert [f["text"] for f in fields] == ["*Actions*\npause ok, notify ops queued"]
    assert [e["text"] for e in message["blocks"][2]["elements"]] == [
        "provider *openai*",
        "job *ftjob-x*",
        "rule *reward-plateau*",
    ]


def test_user_text_cannot_mention_or_link() -> None:
    hostile = "<!channel> grader & co said <https://evil.example|click> > 0.5"
    firing = plateau_firing(
        reason=hostile,
        job=JobFacts(id="ftjob-<b>", model="m&m", method="<dpo>", metadata={"x": hostile}),
        actions=[ActionResult(action="pause", outcome="failed", detail="<500 & down>")],
    )
    message = render_json("slack", firing)
    texts = _mrkdwn_texts(message)
    for text in texts:
        assert "<!channel>" not in text
        assert "<https://evil" not in text
    joined = "\n".join(texts)
    assert escape(hostile) in joined
    assert "&lt;!channel&gt; grader &amp; co said" in joined
    assert "job *ftjob-&lt;b&gt;*" in joined
    assert "model *m&amp;m*" in joined
    assert "pause failed (&lt;500 &amp; down&gt;)" in joined
    assert "|Open ftjob-&lt;b&gt; in ftwatch>" in joined


def test_plain_text_header_is_not_escaped() -> None:
    # Slack shows plain_text literally: an escaped "&amp;" would be printed as such.
    firing = plateau_firing(rule="loss & reward")
    header = render_json("slack", firing)["blocks"][0]["text"]["text"]
    assert header == "Rule loss & reward fired on ftjob-abc123"


def test_long_texts_fit_slack_limits_without_a_broken_entity() -> None:
    firing = plateau_firing(
        reason="&" * 5000, rule="r" * 400, job=JobFacts(id="j" * 3000), checkpoint="c" * 3000
    )
    message = render_json("slack", firing)
    assert slack_problems(message) == []
    header, section, _ = message["blocks"]  # a link past 3000 chars is left out
    assert len(header["text"]["text"]) <= 150
    for text in _mrkdwn_texts(message):
        assert 1 <= len(text) <= TEXT_MAX
    assert section["text"]["text"].endswith("&amp;…")
    assert message["text"].endswith("…")


def test_clip_escaped_never_splits_an_entity() -> None:
    for size in range(2, 12):
        clipped = clip_escaped("a<b>&c" * 3, size)
        assert len(clipped) <= size
        body = clipped.removesuffix("…")
        assert body.count("&") == body.count(";")


def test_a_resolve_is_a_message_of_its_own_that_says_resolved() -> None:
    message = render_json("slack", plateau_firing(resolved=True, reason="resolved: job resumed"))
    assert slack_problems(message) == []
    assert message["blocks"][0]["text"]["text"] == "Resolved: reward-plateau on ftjob-abc123"
    assert message["blocks"][1]["text"]["text"] == "resolved: job resumed"


def test_a_long_job_id_keeps_its_link_with_a_clipped_label() -> None:
    message = render_json("slack", plateau_firing(job=JobFacts(id="j" * 1000)))
    assert slack_problems(message) == []
    link = message["blocks"][3]["text"]["text"]
    assert link.startswith(f"<{EXTERNAL_URL}/v1/jobs/openai:{'j' * 1000}|Open jjj")
    assert link.endswith("… in ftwatch>")
