"""Together AI's fine-tuning API over the same platform (../shared/reference/providers.md §2).

`/v1/fine-tunes` (no paging), ISO-8601 times, events without ids or losses, losses only
from `/metrics` (rows keyed `train/loss`, `eval/loss` by `train/global_step`), checkpoints
without metrics, cancel as the only action. Choices where the reference is silent:
events are listed oldest first; a cancel answers `cancel_requested`, reads after it say
`cancelled`; eval rows are their own rows, as the `resolution` help implies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from simulator.errors import ApiError
from simulator.flavors import Flavor
from simulator.payloads import is_eval_step
from simulator.platform import Platform
from simulator.routes_api import STATE, json_response
from simulator.scenario import JobSpec

Json = dict[str, Any]
USER_ID = "user_sim"
LEARNING_RATE = 1e-05
# OpenAI-worded platform messages → Together event types (FinetuneEventType).
_TYPES = (
    ("Created fine-tuning job", "job_pending"),
    ("Validating training file", "training_data_downloading"),
    ("Files validated", "training_data_download_complete"),
    ("Fine-tuning job started", "training_start"),
    ("Checkpoint created", "checkpoint_save"),
    ("New fine-tuned model created", "model_upload_complete"),
    ("The job has successfully completed", "job_complete"),
    ("The job was cancelled", "job_stopped"),
)
_STEP = re.compile(r"at step (\d+)")


def iso(ts: float) -> str:
    """`2026-11-02T10:15:30Z`: Together's time format."""
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _state(request: web.Request) -> tuple[Platform, Flavor]:
    state = request.app[STATE]
    return state.platform, state.flavor


# -- jobs ------------------------------------------------------------------------------
def best_eval(spec: JobSpec) -> tuple[int, float]:
    """The eval step with the lowest validation loss up to the early stop, and the loss."""
    stop, total = spec.stop_step, spec.total_steps
    steps = [s for s in range(1, stop + 1) if is_eval_step(spec, s)] or [stop]
    losses = {s: spec.curve("valid_loss").value(s, total) for s in steps}
    best = min(steps, key=lambda s: (losses[s] != losses[s], losses[s]))  # NaN never best
    return best, losses[best]


def _early_stopping(spec: JobSpec, status: str) -> Json:
    if spec.early_stop_at is None or status != "succeeded":
        return {"early_stopped": False}
    step, loss = best_eval(spec)
    return {
        "early_stopped": True,
        "early_stopping_best_step": step,
        "early_stopping_best_metric": loss,
    }


def _method(spec: JobSpec) -> Json:
    if spec.method == "dpo":
        return {"method": "dpo", "dpo_beta": 0.1}
    return {"method": "sft", "train_on_inputs": "auto"}


def job_json(raw: Json, spec: JobSpec, flavor: Flavor, now: float) -> Json:
    """A `FinetuneResponse` for the platform's job object."""
    status = raw["status"]
    left = raw["estimated_finish"]
    return {
        "id": raw["id"],
        "status": flavor.statuses.get(status, status),
        "user_id": USER_ID,
        "created_at": iso(raw["created_at"]),
        "updated_at": iso(raw["finished_at"] or now),
        "model": raw["model"],
        "model_output_name": f"{USER_ID}/{raw['model']}-{raw['id']}",
        "training_file": raw["training_file"],
        "validation_file": raw["validation_file"],
        "n_epochs": 1,
        "n_checkpoints": 1,
        "n_evals": max(spec.total_steps // spec.eval_interval, 1),
        "epochs_completed": 1 if status == "succeeded" else 0,
        "batch_size": 16,
        "learning_rate": LEARNING_RATE,
        "training_method": _method(spec),
        "training_type": {"type": "Lora", "lora_r": 8, "lora_alpha": 16},
        "progress": {
            "estimate_available": left is not None,
            "seconds_remaining": max(int((left or now) - now), 0),
        },
        "token_count": spec.total_steps * spec.samples_per_step * 512,
        "total_price": 0,
        "events": [],
        **_early_stopping(spec, status),
    }


async def list_jobs(request: web.Request) -> web.Response:
    platform, flavor = _state(request)
    ids, now = platform.job_ids(), platform.wall()
    jobs = [job_json(platform.get_job(j), platform.spec(j), flavor, now) for j in ids]
    return json_response({"data": jobs[::-1]})  # newest first, as OpenAI's; not documented


async def get_job(request: web.Request) -> web.Response:
    platform, flavor = _state(request)
    job_id = request.match_info["job_id"]
    raw, spec = platform.get_job(job_id), platform.spec(job_id)
    return json_response(job_json(raw, spec, flavor, platform.wall()))


async def cancel(request: web.Request) -> web.Response:
    """POST .../cancel: the job afterwards, `cancel_requested` (400 once it has finished)."""
    platform, flavor = _state(request)
    job_id = request.match_info["job_id"]
    raw = platform.cancel(job_id)
    body = job_json(raw, platform.spec(job_id), flavor, platform.wall())
    return json_response(body | {"status": "cancel_requested"})


# -- events ----------------------------------------------------------------------------
def _event_type(item: Json) -> str:
    if item.get("level") == "error":
        return "job_error"
    message = str(item.get("message", ""))
    return next((t for prefix, t in _TYPES if message.startswith(prefix)), "warning")


def together_event(item: Json, spec: JobSpec) -> Json:
    """A platform event as a `FinetuneEvent`: ISO time, a type, no id and no data."""
    kind = _event_type(item)
    found = _STEP.search(str(item.get("message", "")))
    event: Json = {
        "object": "fine-tune-event",
        "created_at": iso(item["created_at"]),
        "level": "error" if kind == "job_error" else "info",
        "type": kind,
        "message": str(item.get("message", "")),
    }
    if kind == "training_start":
        event |= {"step": 0, "total_steps": spec.total_steps}
    if found is not None and kind == "checkpoint_save":
        step = int(found.group(1))
        event |= {"step": step, "checkpoint_path": _checkpoint_path(spec, step)}
        event["message"] = f"Checkpoint saved at step {step}"
    return event


def _early_stopped_event(spec: JobSpec, at: float) -> Json:
    step, loss = best_eval(spec)
    return {
        "object": "fine-tune-event",
        "created_at": iso(at),
        "level": "info",
        "type": "early_stopped",
        "message": f"Early stopping at step {spec.stop_step}; best step {step}",
        "step": spec.stop_step,
        "early_stopping_best_step": step,
        "early_stopping_best_metric_value": loss,
    }


def _translated(item: Any, spec: JobSpec) -> list[Any]:
    """Together's events for one platform event; injected raw items pass as they are."""
    if not isinstance(item, dict) or item.get("object") != "fine_tuning.job.event":
        return [item]  # malformed, or already Together-shaped (injected by a test)
    if item.get("type") == "metrics" or not isinstance(item.get("created_at"), int):
        return [] if item.get("type") == "metrics" else [item]
    event = together_event(item, spec)
    if event["type"] == "job_complete" and spec.early_stop_at is not None:
        return [_early_stopped_event(spec, item["created_at"]), event]
    return [event]


async def list_events(request: web.Request) -> web.Response:
    platform, _ = _state(request)
    job_id = request.match_info["job_id"]
    spec = platform.spec(job_id)
    events = [e for item in platform.events(job_id)[::-1] for e in _translated(item, spec)]
    return json_response({"data": events})


# -- checkpoints -----------------------------------------------------------------------
def _checkpoint_path(spec: JobSpec, step: int) -> str:
    return f"s3://together-sim/{spec.id}/checkpoint-{step}"


async def list_checkpoints(request: web.Request) -> web.Response:
    """Intermediate checkpoints newest first, and the final model once completed."""
    platform, _ = _state(request)
    job_id = request.match_info["job_id"]
    spec, raw = platform.spec(job_id), platform.get_job(job_id)
    data: list[Json] = []
    if raw["status"] == "succeeded":
        at, path = iso(raw["finished_at"]), f"s3://together-sim/{job_id}/final"
        final = {"checkpoint_type": "Final", "created_at": at, "path": path}
        data.append(final | {"step": spec.stop_step})
    for item in platform.all_checkpoints(job_id):
        step = item["step_number"]
        data.append(
            {
                "checkpoint_type": f"Intermediate (step {step})",
                "created_at": iso(item["created_at"]),
                "path": _checkpoint_path(spec, step),
                "step": step,
            }
        )
    return json_response({"data": data})


# -- metrics ---------------------------------------------------------------------------
def metric_rows(data: Json) -> list[Json]:
    """The rows one platform metrics event logs: a train row, and an eval row on eval steps."""
    step = data["step"]
    rows: list[Json] = []
    if "train_loss" in data:
        row = {"train/loss": data["train_loss"], "train/learning_rate": LEARNING_RATE}
        rows.append(row | {"train/global_step": step})
    if "valid_loss" in data:
        rows.append({"eval/loss": data["valid_loss"], "train/global_step": step})
    return rows


async def _filters(request: web.Request) -> dict[str, str]:
    """The filters from the query (SDK 3.x) or a JSON body on the GET (the OpenAPI text)."""
    given: dict[str, str] = dict(request.query)
    if request.can_read_body:
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            raise ApiError(400, "Invalid request parameters: body is not JSON") from None
        if isinstance(body, dict):
            given = {str(k): str(v) for k, v in body.items()} | given
    return given


def _int(given: dict[str, str], name: str) -> int | None:
    raw = given.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"Invalid request parameters: {name}", param=name) from None


def _time(given: dict[str, str], name: str) -> float | None:
    raw = given.get(name)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw).timestamp()
    except ValueError:
        raise ApiError(400, f"Invalid request parameters: {name}", param=name) from None


def _within(given: dict[str, str]) -> Callable[[int, float], bool]:
    low, high = _int(given, "global_step_from"), _int(given, "global_step_to")
    since, until = _time(given, "logged_at_from"), _time(given, "logged_at_to")

    def keep(step: int, at: float) -> bool:
        steps_ok = (low is None or step >= low) and (high is None or step <= high)
        return steps_ok and (since is None or at >= since) and (until is None or at <= until)

    return keep


def sampled(rows: list[Json], resolution: int | None) -> list[Json]:
    """At most `resolution` train rows, uniformly spaced; eval rows are never dropped."""
    train = [i for i, row in enumerate(rows) if "train/loss" in row]
    if resolution is None or len(train) <= resolution:
        return rows
    stride = len(train) / max(resolution, 1)
    kept = {train[int(n * stride)] for n in range(max(resolution, 0))}
    return [row for i, row in enumerate(rows) if "train/loss" not in row or i in kept]


async def list_metrics(request: web.Request) -> web.Response:
    platform, _ = _state(request)
    job_id = request.match_info["job_id"]
    given = await _filters(request)
    keep = _within(given)
    events = platform.events(job_id)[::-1]
    seen = platform.visibility(job_id)
    rows = []
    for item, shown in zip(events, seen, strict=True):
        data = item.get("data") if isinstance(item, dict) else None
        if not isinstance(data, dict) or item.get("type") != "metrics":
            continue
        if keep(int(data["step"]), shown["visible_at"]):
            rows += metric_rows(data)
    return json_response({"metrics": sampled(rows, _int(given, "resolution"))})


def add_together_routes(app: web.Application, prefix: str = "/v1") -> None:
    base = prefix + "/fine-tunes"
    app.router.add_get(base, list_jobs)
    app.router.add_get(base + "/{job_id}", get_job)
    app.router.add_get(base + "/{job_id}/events", list_events)
    app.router.add_get(base + "/{job_id}/checkpoints", list_checkpoints)
    app.router.add_get(base + "/{job_id}/metrics", list_metrics)
    app.router.add_post(base + "/{job_id}/{action:cancel}", cancel)
