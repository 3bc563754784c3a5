"""The app factory: one aiohttp application per process, its parts chosen by role.

Tests build their apps here too. Resources live in `cleanup_ctx` in dependency order
(Redis → client session → background loops, all under one Supervisor; see
service/parts.py).
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import structlog
from aiohttp import web

from service import http_limits, keys, parts
from service.api.setup import setup_api
from service.config_check import ConfigError
from service.keys import Role
from service.metrics import Metrics
from service.settings import Settings, environment
from workers.rules.capability_check import capability_errors, capability_warnings
from workers.rules.config import RulesFile
from workers.rules.errors import RulesError
from workers.rules.loading import check_env, configured_rules
from workers.supervisor import RestartPolicy, Supervisor

__all__ = ["ConfigError", "create_app", "load_rules"]

log = structlog.get_logger(__name__)


def load_rules(path: Path | None) -> RulesFile:
    """The config file at `path` (or the defaults) with its receivers' secrets set, or
    ConfigError with every problem prefixed by the file (the service starts with none)."""
    where = str(path) if path else "built-in rules"
    try:
        rules = configured_rules(path)
    except RulesError as exc:
        raise ConfigError([_placed(where, e) for e in exc.errors]) from None
    problems = check_env(rules, environment())
    if problems:
        raise ConfigError([_placed(where, e) for e in problems])
    # What `rules check` says of actions the providers lack: logged, not refused (why:
    # workers/rules/capability_check.py).
    for error in capability_errors(rules):
        log.error("rule_action_unsupported", problem=_placed(where, error))
    for warning in capability_warnings(rules):
        log.warning("rule_action_unsupported_somewhere", problem=_placed(where, warning))
    return rules


_YAML_MARK = re.compile(r"line (\d+), column (\d+): ")


def _placed(where: str, error: str) -> str:
    """`error` at its place in the file: `rules.yaml:3:7: …` for YAML, else `rules.yaml: …`."""
    mark = _YAML_MARK.match(error)
    if mark:
        return f"{where}:{mark[1]}:{mark[2]}: {error[mark.end() :]}"
    # A missing or unreadable file's error already starts with its path.
    return error if error.startswith(f"{where}:") else f"{where}: {error}"


def create_app(
    settings: Settings,
    *,
    role: Role = "all",
    metrics: Metrics | None = None,
    rules: RulesFile | None = None,
    restart_policy: RestartPolicy | None = None,
) -> web.Application:
    """Build the ftwatch application for `role` (all, api, poller or worker)."""
    app = web.Application(handler_args=http_limits.handler_args(settings))
    app[keys.SETTINGS] = settings
    app[keys.ROLE] = role
    app[keys.METRICS] = metrics or Metrics(
        max_job_series=settings.max_job_series, max_job_metrics=settings.max_job_metrics
    )
    app[keys.RULES] = rules if rules is not None else load_rules(settings.rules)
    app[keys.STOPPING] = asyncio.Event()
    app[keys.SUPERVISOR] = Supervisor(
        app[keys.STOPPING], app[keys.METRICS].loop_restarts, policy=restart_policy
    )
    app[keys.STARTED] = time.monotonic()
    app.cleanup_ctx.append(parts.redis_ctx)
    app.cleanup_ctx.append(parts.upstream_ctx)
    # Before the contexts that start loops: its cleanup, which stops them all, runs after
    # theirs and before the client session and Redis close.
    app.cleanup_ctx.append(parts.loops_ctx)
    if role in {"all", "poller"}:
        app.cleanup_ctx.append(parts.poller_ctx)
    if role in {"all", "worker"}:
        app.cleanup_ctx.append(parts.worker_ctx)
        app.cleanup_ctx.append(parts.delivery_ctx)
    app.on_shutdown.append(_on_shutdown)
    setup_api(app)
    # After setup_api's error middleware, so inside it: a body over the size limit is
    # still answered with the JSON envelope.
    app.middlewares.append(http_limits.body_deadline(settings.http_body_timeout))
    return app


async def _on_shutdown(app: web.Application) -> None:
    # Stop taking work before the server closes; loops see this between two items.
    app[keys.STOPPING].set()
