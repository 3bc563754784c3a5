"""One Redis over TLS (`rediss://…?ssl_ca_certs=`): the stores work, a failed handshake says
what is wrong and which option of FTWATCH_REDIS_URL to set."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from service.store.audit import AuditLog
from service.store.connection import connect_redis
from service.store.tls import RedisTLSError
from tests.store.test_audit import firing
from tests.support import RedisServer, TlsFiles

TLS = pytest.mark.parametrize("redis_server", ["tls"], indirect=True)


async def refusal(url: str) -> RedisConnectionError:
    """The error of a first command through ftwatch's client of `url` (no retries)."""
    client = connect_redis(url, retries=0)
    try:
        with pytest.raises(RedisConnectionError) as refused:
            await client.ping()
    finally:
        await client.aclose()
    return refused.value


@TLS
async def test_the_audit_log_round_trips_over_rediss(
    redis: aioredis.Redis, redis_server: RedisServer
) -> None:
    assert redis_server.url.startswith("rediss://127.0.0.1:")
    audit = AuditLog(redis)
    await audit.record(firing(1))
    await audit.record(firing(2))
    assert [f.firing_id for _, f in (await audit.page()).items] == ["f2", "f1"]
    # The server listens for TLS only: the same port in plain text is reset, which is
    # named as what it likely is.
    plain = await refusal(f"redis://127.0.0.1:{redis_server.port}/0")
    assert not isinstance(plain, RedisTLSError)
    assert "Connection reset by peer" in str(plain) and "use rediss://" in str(plain)


@TLS
async def test_a_certificate_of_another_ca_is_refused_naming_the_option(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    assert redis_server.tls is not None
    other = TlsFiles.issue(tmp_path / "other")  # a CA of its own, not the server's
    url = redis_server.url.replace(str(redis_server.tls.ca), str(other.ca))
    error = await refusal(url)
    assert isinstance(error, RedisTLSError), error
    message = str(error)
    assert f"TLS with Redis at 127.0.0.1:{redis_server.port} failed" in message
    assert "certificate verify failed" in message
    assert "FTWATCH_REDIS_URL" in message and "ssl_ca_certs=" in message


async def test_rediss_to_a_plain_text_redis_says_it_may_not_be_tls(
    redis_server: RedisServer, tls_files: TlsFiles
) -> None:
    # A plain server waits for a command line and never answers the TLS hello: the
    # connect times out (half a second here), and the port did take a TCP connection.
    query = f"{tls_files.url_query()}&socket_connect_timeout=0.5"
    error = await refusal(f"rediss://127.0.0.1:{redis_server.port}/0?{query}")
    assert isinstance(error, RedisTLSError), error
    assert "no answer to the TLS handshake within 0.5s" in str(error)
    assert "For a plain-text Redis use redis://" in str(error)
    redis_server.stop()  # nothing listens: a timeout or refusal stays what it is
    assert not isinstance(await refusal(f"rediss://127.0.0.1:{redis_server.port}/0"), RedisTLSError)


async def test_a_certificate_without_the_host_is_told_apart_from_an_unknown_ca(
    tmp_path: Path,
) -> None:
    named = TlsFiles.issue(tmp_path / "tls", names=("redis.example.internal",))
    server = RedisServer(tmp_path, tls=named)
    try:
        server.start()
        error = await refusal(server.url)  # 127.0.0.1, which the certificate does not list
    finally:
        server.stop()
    assert isinstance(error, RedisTLSError), error
    assert "IP address mismatch" in str(error)
    assert "does not list the host" in str(error)
