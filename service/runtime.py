"""`ftwatch run`: build the app for a role and serve it until SIGTERM."""

from __future__ import annotations

import asyncio
import sys

import structlog

from service.app import ConfigError, create_app
from service.keys import Role
from service.serve import serve, stop_on_signals
from service.settings import Settings

log = structlog.get_logger(__name__)


async def run_service(settings: Settings, role: Role) -> int:
    """Serve until SIGTERM/SIGINT; exit code 0 after a clean shutdown."""
    try:
        app = create_app(settings, role=role)
    except ConfigError as exc:
        log.error("config_invalid", error=str(exc))
        print(f"ftwatch: {exc}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    stop_on_signals(stop)
    await serve(app, settings.host, settings.port, stop)
    return 0
