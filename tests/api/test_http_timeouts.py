"""Header and body read deadlines (issue 16, F5), with raw sockets against a real server:
a client that stops mid-request is disconnected; one that is slow but keeps sending is served.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from pydantic import SecretStr

from tests.api.conftest import TOKEN, StartApi

HEADER_TIMEOUT = 0.5
BODY_TIMEOUT = 2.0
# What the machine may add to a deadline (the tests share two busy cores).
SLACK = 1.5


class Raw:
    """One TCP connection to the server, bytes in and out."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.opened = time.monotonic()

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def until_closed(self, bound: float) -> tuple[bytes, float]:
        """Everything the server sends until it closes, and the seconds since opening."""
        received = b""
        async with asyncio.timeout(bound):
            while chunk := await self.reader.read(65536):
                received += chunk
        return received, time.monotonic() - self.opened

    def close(self) -> None:
        self.writer.close()


Connect = Callable[[], Awaitable[Raw]]


@pytest.fixture
async def connect(start_api: StartApi) -> AsyncIterator[Connect]:
    api = await start_api(
        api_token=SecretStr(TOKEN),
        http_header_timeout=HEADER_TIMEOUT,
        http_body_timeout=BODY_TIMEOUT,
    )
    host, port = api.url.removeprefix("http://").split(":")
    opened: list[Raw] = []

    async def open_raw() -> Raw:
        raw = Raw(*await asyncio.open_connection(host, int(port)))
        opened.append(raw)
        return raw

    yield open_raw
    for raw in opened:
        raw.close()


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # connected, then nothing
        b"GET /heal",  # part of a request line
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n",  # headers without the final CRLF
    ],
    ids=["nothing", "partial-line", "headers-unfinished"],
)
async def test_an_unfinished_request_head_is_disconnected(connect: Connect, sent: bytes) -> None:
    raw = await connect()
    await raw.send(sent)
    received, after = await raw.until_closed(HEADER_TIMEOUT + SLACK + 5)
    assert received == b""
    assert HEADER_TIMEOUT * 0.9 <= after < HEADER_TIMEOUT + SLACK


async def test_bytes_trickling_in_do_not_extend_the_head_deadline(connect: Connect) -> None:
    # Slowloris: a byte at a time, each well inside the deadline, the head never finished.
    raw = await connect()
    for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
        if raw.reader.at_eof():
            break
        with contextlib.suppress(ConnectionError):
            await raw.send(bytes([byte]))
        await asyncio.sleep(HEADER_TIMEOUT / 5)  # the client's pace, not a wait on the server
    received, after = await raw.until_closed(1)
    assert received == b""
    assert after < HEADER_TIMEOUT + SLACK


async def test_an_idle_keep_alive_connection_is_closed(connect: Connect) -> None:
    raw = await connect()
    await raw.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    async with asyncio.timeout(5):
        assert (await raw.reader.readuntil(b"\r\n")).startswith(b"HTTP/1.1 200")
    raw.opened = time.monotonic()
    _, after = await raw.until_closed(HEADER_TIMEOUT + SLACK + 5)
    assert after < HEADER_TIMEOUT + SLACK


async def test_a_short_body_is_answered_408_and_disconnected(connect: Connect) -> None:
    raw = await connect()
    head = (
        "POST /v1/rules/validate HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\n"
    )
    await raw.send(head.encode() + b"rules: []\n")
    raw.opened = time.monotonic()
    received, after = await raw.until_closed(BODY_TIMEOUT + SLACK + 5)
    assert received.startswith(b"HTTP/1.1 408"), received
    assert b'"code":"request_timeout"' in received.replace(b" ", b"")
    assert BODY_TIMEOUT * 0.9 <= after < BODY_TIMEOUT + SLACK


async def test_a_slow_request_that_keeps_coming_is_served(connect: Connect) -> None:
    raw = await connect()
    body = b"# sent slowly, in four parts\nrules: []\n"
    head = (
        "POST /v1/rules/validate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    # The head in three parts within its deadline, then the body in four over twice the
    # head deadline (but within the body's): each deadline covers its own part only.
    for part in (head[:10], head[10:40], head[40:]):
        await raw.send(part)
        await asyncio.sleep(HEADER_TIMEOUT / 5)  # the client's pace
    step = len(body) // 4 + 1
    for start in range(0, len(body), step):
        await raw.send(body[start : start + step])
        await asyncio.sleep(HEADER_TIMEOUT / 2)
    received, _ = await raw.until_closed(5)
    assert received.startswith(b"HTTP/1.1 200"), received
    assert received.endswith(b'{"valid":true,"errors":[],"warnings":[]}'), received
