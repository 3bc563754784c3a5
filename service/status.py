"""`ftwatch status`: what a running ftwatch is watching, read from its API (so it works
against a remote deployment as well as a local one).

Jobs by provider and status, the latest figures of each live job, rules one evaluation
from firing, decisions a trainer has not acknowledged, and the newest actions. Reads only;
the token is sent when it is set.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from typing import Any

from service.models.lifecycle import is_known, is_terminal, named

# Seconds per API call: a status view that hangs is worse than one that says why.
TIMEOUT = 10.0
JOBS_PAGE = 500  # the API's largest page
RECENT_ACTIONS = 10
_HEADLINE = ("valid_reward_mean", "train_reward_mean", "valid_loss", "train_loss")


class StatusError(Exception):
    """The API could not be read: the message says where and why."""


@dataclass(frozen=True)
class Snapshot:
    """The API answers a status view is made of."""

    jobs: list[dict[str, Any]]
    rules: list[dict[str, Any]]
    actions: list[dict[str, Any]]


def get(base: str, path: str, token: str | None) -> Any:
    """One GET of the API as JSON; StatusError naming the URL otherwise."""
    request = urllib.request.Request(base.rstrip("/") + path)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        raise StatusError(f"{request.full_url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise StatusError(f"{request.full_url}: {reason} (is ftwatch running there?)") from None


def read(base: str, token: str | None) -> Snapshot:
    """The newest page of jobs, the rules and the newest actions."""
    jobs = get(base, f"/v1/jobs?limit={JOBS_PAGE}", token)
    rules = get(base, "/v1/rules", token)
    actions = get(base, f"/v1/actions?limit={RECENT_ACTIONS * 3}", token)
    return Snapshot(jobs.get("data", []), rules.get("rules", []), actions.get("data", []))


def render(snapshot: Snapshot) -> str:
    """The whole view as text."""
    parts = [
        _counts(snapshot.jobs),
        _live(snapshot.jobs),
        _near(snapshot.jobs, snapshot.rules),
        _decisions(snapshot.jobs),
        _recent(snapshot.actions),
    ]
    return "\n\n".join(part for part in parts if part) + "\n"


def _is_live(job: dict[str, Any]) -> bool:
    """A job that has not finished, by ftwatch's lifecycle (not `unknown`, not terminal)."""
    status = named(str(job.get("status")))
    return status is not None and is_known(status) and not is_terminal(status)


def _counts(jobs: list[dict[str, Any]]) -> str:
    by_provider: dict[str, Counter[str]] = {}
    for job in jobs:
        by_provider.setdefault(job.get("provider", "?"), Counter())[job.get("status", "?")] += 1
    if not by_provider:
        return "No jobs yet: ftwatch has seen none (check the providers and FTWATCH_JOBS)."
    lines = [f"Jobs ({len(jobs)}):"]
    for provider, statuses in sorted(by_provider.items()):
        text = ", ".join(f"{n} {status}" for status, n in statuses.most_common())
        lines.append(f"  {provider}: {text}")
    return "\n".join(lines)


def _figures(job: dict[str, Any]) -> str:
    metrics = job.get("metrics") or {}
    shown = [f"{name}={metrics[name]:.4g}" for name in _HEADLINE if name in metrics]
    return " ".join(shown)


def _live(jobs: list[dict[str, Any]]) -> str:
    rows = [job for job in jobs if _is_live(job)]
    if not rows:
        return ""
    lines = ["Live jobs:"]
    for job in rows:
        step = job.get("step")
        where = "" if step is None else f" step {step}"
        total = job.get("total_steps")
        where += f"/{total}" if step is not None and total else ""
        key = f"{job.get('provider')}:{job.get('job_id')}"
        lines.append(f"  {key}  {job.get('status')}{where}  {_figures(job)}".rstrip())
    return "\n".join(lines)


def _patience(rules: list[dict[str, Any]]) -> dict[str, int]:
    """Plateau rules' patience, by rule name."""
    found = {}
    for rule in rules:
        plateau = (rule.get("when") or {}).get("plateau")
        if isinstance(plateau, dict) and isinstance(plateau.get("patience"), int):
            found[rule["name"]] = plateau["patience"]
    return found


def _near(jobs: list[dict[str, Any]], rules: list[dict[str, Any]]) -> str:
    """Plateau rules one evaluation from firing on a live job."""
    patience = _patience(rules)
    lines = []
    for job in jobs:
        if not _is_live(job):
            continue
        for name, state in (job.get("rules") or {}).items():
            detector = (state or {}).get("detector") or {}
            limit = patience.get(name)
            if limit and state.get("armed", True) and detector.get("wait", 0) >= limit - 1:
                key = f"{job.get('provider')}:{job.get('job_id')}"
                lines.append(f"  {name} on {key}: {detector['wait']} of {limit} evaluations")
    return "\n".join(["About to fire:", *lines]) if lines else ""


def _decisions(jobs: list[dict[str, Any]]) -> str:
    """Decisions a self-hosted trainer has not acknowledged yet."""
    lines = []
    for job in jobs:
        for decision in job.get("decisions") or []:
            if decision.get("ack") is None:
                key = f"{job.get('provider')}:{job.get('job_id')}"
                what = f"{decision.get('action')} ({decision.get('rule')})"
                lines.append(f"  {key}  {what}  {decision.get('id')}: {decision.get('reason')}")
    return (
        "\n".join(["Pending decisions (not acknowledged by the trainer):", *lines]) if lines else ""
    )


def _recent(entries: list[dict[str, Any]]) -> str:
    """The newest action outcomes (the audit log's `action` records)."""
    lines = []
    for entry in entries:
        action = entry.get("action")
        if entry.get("record") != "action" or not isinstance(action, dict):
            continue
        what = f"{action.get('action')} {action.get('outcome')}"
        key = f"{action.get('provider')}:{action.get('job_id')}"
        lines.append(f"  {key}  {what}  ({action.get('rule')})")
    if not lines:
        return "No actions yet."
    return "\n".join(["Recent actions (newest first):", *lines[:RECENT_ACTIONS]])
