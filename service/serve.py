"""Run an aiohttp application until SIGTERM/SIGINT, then shut it down in bounded time."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import structlog
from aiohttp import web

log = structlog.get_logger(__name__)

# aiohttp's default is 60 s, longer than Kubernetes' 30 s grace period (stack-notes).
SHUTDOWN_TIMEOUT = 20.0


async def serve(
    app: web.Application,
    host: str,
    port: int,
    stop: asyncio.Event,
    on_start: Callable[[int], None] | None = None,
) -> int:
    """Serve `app` until `stop` is set; `on_start` gets the bound port (port 0: any free)."""
    runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_TIMEOUT, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = _bound_port(runner, port)
        log.info("listening", host=host, port=bound)
        if on_start is not None:
            on_start(bound)
        await stop.wait()
        log.info("shutting_down")
        return bound
    finally:
        await runner.cleanup()


def _bound_port(runner: web.AppRunner, default: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return default


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set `stop` on SIGTERM and SIGINT (the pod's shutdown and Ctrl-C)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
