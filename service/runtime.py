"""`ftwatch run`: build the app for a role and serve it until SIGTERM."""

from __future__ import annotations

import asyncio

from service.app import create_app
from service.keys import Role
from service.serve import serve, stop_on_signals
from service.settings import Settings


async def run_service(settings: Settings, role: Role) -> int:
    """Serve until SIGTERM/SIGINT; exit code 0 after a clean shutdown."""
    stop = asyncio.Event()
    stop_on_signals(stop)
    app = create_app(settings, role=role)
    await serve(app, settings.host, settings.port, stop)
    return 0
