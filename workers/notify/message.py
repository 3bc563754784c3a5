"""Human-readable text of a firing: the demo's one line and the phrases every format reuses."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from service.models.firing import ActionResult, Firing, JobFacts, Severity
from service.models.lifecycle import is_failure

_SPACE = re.compile(r"\s+")
_DETAIL_MAX = 200  # an upstream error body can be long; a notification names its gist
# Rule kinds whose firing usually means money burning or a broken run, not a slow one.
_CRITICAL_KINDS = frozenset({"threshold"})


def one_line(text: str) -> str:
    """`text` with every run of whitespace (newlines included) collapsed to one space."""
    return _SPACE.sub(" ", text).strip()


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, marking a cut with an ellipsis."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def format_number(value: float) -> str:
    """A metric value as people read it: 0.612, 40, 1.5e-05, NaN, inf."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def values_text(values: Mapping[str, float]) -> str:
    """The deciding values, sorted by name: `a=1, b=0.5`."""
    return ", ".join(f"{name}={format_number(v)}" for name, v in sorted(values.items()))


def metadata_text(metadata: Mapping[str, str]) -> str:
    """The job's metadata, sorted by key, on one line: `run=nightly-7, team=search`."""
    return one_line(", ".join(f"{k}={v}" for k, v in sorted(metadata.items())))


def action_name(action: str) -> str:
    """`notify:ops` reads as `notify ops`; pause/resume/cancel stay as they are."""
    verb, sep, target = action.partition(":")
    return f"{verb} {target}" if sep else action


def describe_action(result: ActionResult) -> str:
    """One action and its outcome: `pause ok`, `cancel failed (HTTP 500)`."""
    text = f"{action_name(result.action)} {result.outcome.replace('_', ' ')}"
    detail = one_line(result.detail)
    if detail and result.outcome != "ok":
        text += f" ({clip(detail, _DETAIL_MAX)})"
    return text


def describe_actions(actions: Iterable[ActionResult]) -> str:
    """Every action with its outcome, comma-separated; `no action` when there is none."""
    return ", ".join(describe_action(a) for a in actions) or "no action"


def job_text(job: JobFacts) -> str:
    """The job as a line names it: `ftjob-abc (o4-mini, reinforcement) step 40`."""
    text = job.id
    known = [part for part in (job.model, job.method) if part]
    if known:
        text += f" ({', '.join(known)})"
    if job.step is not None:
        text += f" step {job.step}"
    return text


def best_text(firing: Firing) -> str | None:
    """The best value, its step and checkpoint (the model to keep), or None when unknown."""
    text = "best"
    if firing.best is not None:
        text += f" {format_number(firing.best)}"
    if firing.best_step is not None:
        text += f" at step {firing.best_step}"
    if firing.checkpoint:
        text += ("," if text != "best" else "") + f" checkpoint {firing.checkpoint}"
    return None if text == "best" else text


def headline(firing: Firing) -> str:
    """What happened, in a few words: `Rule reward-plateau fired on ftjob-abc`."""
    job = firing.job.id
    if firing.resolved:
        text = f"Resolved: {firing.rule} on {job}"
    elif firing.type == "ftwatch.action.failed":
        text = f"Action failed: {firing.rule} on {job}"
    elif firing.type == "ftwatch.job.finished":
        text = f"Job {job} finished" + (f": {firing.job.status}" if firing.job.status else "")
    else:
        text = f"Rule {firing.rule} fired on {job}"
    return one_line(text + (" (dry run)" if firing.dry_run else ""))


def severity(firing: Firing) -> Severity:
    """The rule's severity, else one from type and rule kind (never outcomes, so a resolve
    matches its trigger)."""
    if firing.type == "ftwatch.action.failed":
        return "error"
    if firing.severity is not None and firing.type == "ftwatch.rule.fired":
        return firing.severity
    # A finished job is never resolved later, so its final status may raise the severity.
    if firing.type == "ftwatch.job.finished" and is_failure(firing.job.status):
        return "error"
    if firing.type == "ftwatch.job.finished" or firing.kind in {"status", "manual"}:
        return "info"
    return "critical" if firing.kind in _CRITICAL_KINDS else "warning"


def description(firing: Firing) -> str:
    """Several lines: the reason, the job, the deciding values, the best checkpoint, the actions."""
    lines = [one_line(firing.reason) or headline(firing), f"Job: {job_text(firing.job)}"]
    if firing.job.metadata:
        lines.append(f"Metadata: {metadata_text(firing.job.metadata)}")
    if firing.values:
        lines.append(f"Values: {values_text(firing.values)}")
    best = best_text(firing)
    if best:
        lines.append(f"Best: {best.removeprefix('best ')}")
    lines.append(f"Actions: {describe_actions(firing.actions)}")
    return "\n".join(lines)


def summary_line(firing: Firing) -> str:
    """The one readable line the demo prints for a notification."""
    tags = [firing.rule]
    if firing.resolved:
        tags.append("resolved")
    if firing.dry_run:
        tags.append("dry run")
    what = one_line(firing.reason) or headline(firing)
    line = f"[{' · '.join(tags)}] {job_text(firing.job)}: {what}"
    if firing.checkpoint:
        line += f"; best checkpoint {firing.checkpoint}"
    if firing.actions:
        line += f" → {describe_actions(firing.actions)}"
    return one_line(line)
