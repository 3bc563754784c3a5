"""Deadlines for reading a request (issue 16, F5): a client that sends part of a request
line, headers without their final CRLF, or a short body is disconnected, not waited for.

The head: aiohttp's keep-alive timer. It runs from a connection's start (aiohttp 3.14.5+)
and from the end of each response, and closes the connection unless a whole request head
has arrived by then; bytes arriving do not extend it, so a byte every few seconds
(Slowloris) gains nothing. The body: a middleware reads it under its own deadline before
any handler sees the request.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from service.api.errors import ApiError, error_response
from service.settings import Settings


def handler_args(settings: Settings) -> dict[str, Any]:
    """Options for aiohttp's request handler: `web.Application(handler_args=...)`."""
    return {"keepalive_timeout": settings.http_header_timeout}


def body_deadline(timeout: float) -> Middleware:
    """A middleware that reads each body within `timeout` seconds, or answers 408 and closes."""

    @web.middleware
    async def read_body_in_time(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.can_read_body:
            try:
                async with asyncio.timeout(timeout):
                    await request.read()  # kept by aiohttp: the handler's read() gets it
            except TimeoutError:
                return await _too_slow(request, f"the body did not arrive within {timeout:g} s")
        return await handler(request)

    return read_body_in_time


async def _too_slow(request: web.Request, message: str) -> web.StreamResponse:
    """Send the 408 now and close: aiohttp would otherwise keep reading the rest of the
    body after the response ("lingering", 10 s), which is what the client holds back."""
    response = error_response(ApiError(408, "request_timeout", message))
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()
    return response
