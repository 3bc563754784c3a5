"""A failed TLS handshake with Redis said as such, with what to change in FTWATCH_REDIS_URL.

redis-py reports it as "Error 1 connecting to h:p. [SSL: CERTIFICATE_VERIFY_FAILED] …",
the same ConnectionError as a refused connection. RedisTLSError is still a
ConnectionError (the loops ride it out as an outage: a CA or certificate fixed on the
server side heals it), but its message names the problem and the URL option to set.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from redis.asyncio.connection import Connection, SSLConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# A plain TCP connect to tell "no TCP answer" from "no TLS answer" after a timeout.
PROBE_TIMEOUT = 1.0
# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH.
_NAME_MISMATCH = frozenset({62, 64})
CA_HINT = (
    "name the CA that signed the server's certificate in FTWATCH_REDIS_URL: "
    "?ssl_ca_certs=/path/to/ca.pem (redis+cluster:// and redis+sentinel:// with tls=true "
    "too), or set SSL_CERT_FILE"
)
NAME_HINT = (
    "the server's certificate does not list the host FTWATCH_REDIS_URL connects to "
    "(for Sentinel: the address the sentinels announce); connect by a name it lists"
)
CLIENT_CERT_HINT = (
    "a server that asks for a client certificate does this when none (or one it does not "
    "trust) is shown: name it and its key in FTWATCH_REDIS_URL with "
    "ssl_certfile=/path/cert.pem&ssl_keyfile=/path/key.pem"
)
RESET_PROBLEM = "the server closed the connection right after the TLS handshake"
TLS_ONLY_HINT = (
    "a server that speaks only TLS resets a plain-text connection at once: if this one "
    "does, use rediss:// (or tls=true) in FTWATCH_REDIS_URL"
)
PLAIN_HINT = (
    "does the server speak TLS on that port? For a plain-text Redis use redis:// (or no "
    "tls=true) in FTWATCH_REDIS_URL; a server that asks for a client certificate needs "
    "ssl_certfile and ssl_keyfile there"
)


class RedisTLSError(RedisConnectionError):
    """The TLS handshake with a Redis server failed; `problem` and `hint` name no host."""

    def __init__(self, where: str, problem: str, hint: str) -> None:
        super().__init__(f"TLS with {where} failed: {problem}; {hint}")
        self.problem = problem
        self.hint = hint


def explain(error: BaseException, where: str, *, tls: bool = True) -> RedisTLSError | None:
    """The TLS failure behind `error` (its cause chain) with `where` ("Redis at h:p"), or
    None when it is another failure; `tls` says the failed connect was a TLS one."""
    seen: set[int] = set()
    found: BaseException | None = error
    while found is not None and id(found) not in seen:
        if isinstance(found, RedisTLSError):
            return found
        if isinstance(found, ssl.SSLError):
            return _described(found, where)
        if tls and isinstance(found, ConnectionResetError):
            # TLS 1.3 checks the client's certificate after the handshake: a server that
            # refuses it sends an alert and closes, and the first read may meet the reset
            # before the alert (either comes, by a race).
            return RedisTLSError(where, RESET_PROBLEM, CLIENT_CERT_HINT)
        seen.add(id(found))
        found = found.__cause__ or found.__context__
    return None


def reset_at_connect(error: BaseException) -> bool:
    """Whether a ConnectionResetError is behind `error` (its cause chain)."""
    found: BaseException | None = error
    for _ in range(10):  # bounded: a chain is a few links
        if found is None:
            return False
        if isinstance(found, ConnectionResetError):
            return True
        found = found.__cause__ or found.__context__
    return False


def _described(error: ssl.SSLError, where: str) -> RedisTLSError:
    if isinstance(error, ssl.SSLCertVerificationError):
        problem = f"certificate verify failed: {error.verify_message}"
        hint = NAME_HINT if error.verify_code in _NAME_MISMATCH else CA_HINT
        return RedisTLSError(where, problem, hint)
    reason = error.reason or str(error)
    hint = CLIENT_CERT_HINT if "CERTIFICATE_REQUIRED" in reason else PLAIN_HINT
    return RedisTLSError(where, f"TLS handshake failed ({reason})", hint)


class TLSConnection(SSLConnection):
    """redis-py's TLS connection whose failed handshake is a RedisTLSError."""

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        # Every connect goes through here (connect() and a command's reconnect alike).
        try:
            await super().connect_check_health(check_health, retry_socket_connect)
        except RedisConnectionError as exc:
            tls = explain(exc, f"Redis at {self._host_error()}")
            if tls is None or tls is exc:
                raise
            raise tls from exc
        except RedisTimeoutError as exc:
            # A plain-text Redis never answers a TLS hello (it waits for a command line):
            # the handshake times out. When the port takes a TCP connect, it was TLS.
            if not await _takes_tcp(self.host, self.port):
                raise
            problem = f"no answer to the TLS handshake within {self.socket_connect_timeout}s"
            raise RedisTLSError(f"Redis at {self._host_error()}", problem, PLAIN_HINT) from exc


async def _takes_tcp(host: str, port: int) -> bool:
    """Whether a plain TCP connect to host:port succeeds, quickly."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), PROBE_TIMEOUT)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class PlainConnection(Connection):
    """redis-py's plain-text connection whose reset at connect names the TLS-only case."""

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        try:
            await super().connect_check_health(check_health, retry_socket_connect)
        except RedisConnectionError as exc:
            if not reset_at_connect(exc):
                raise
            raise RedisConnectionError(f"{exc}; {TLS_ONLY_HINT}") from exc
