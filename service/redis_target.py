"""FTWATCH_REDIS_URL's multi-node schemes (SPEC §3) parsed into what a client needs.

`redis+sentinel://[:password@]host:port[,host:port…]/<service name>[/db]` and
`redis+cluster://[:password@]host:port[,host:port…]`, each with `?option=…`. Pure: no
connection is made here, so the settings check and `connect_redis` read a URL the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

SENTINEL = "redis+sentinel"
CLUSTER = "redis+cluster"
# Query options (spec silent on TLS). `?tls=true` makes every connection TLS: to each
# cluster node; on Sentinel to the master *and to the sentinels*: a Sentinel set run
# with TLS (Bitnami's chart with tls.enabled) has its sentinels on TLS too, so one
# switch for both is what its users expect (plain sentinels before TLS data nodes are
# not supported).
# The ssl_* options name the files, with rediss://'s (redis-py's) names: the CA that
# signed the servers' certificates (else the system store, or SSL_CERT_FILE), and a
# client certificate and key for servers that ask for one (tls-auth-clients yes).
# `sentinel_password` is for sentinels that have a password of their own.
_TRUE = frozenset({"1", "true", "yes"})
TLS_FILES = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile")
_OPTIONS = frozenset({"tls", "sentinel_password", *TLS_FILES})


@dataclass(frozen=True)
class RedisTarget:
    """Where a Sentinel set or a Cluster is, and how to log in to it."""

    scheme: str
    hosts: tuple[tuple[str, int], ...]
    password: str | None = None
    service: str = ""
    db: int = 0
    tls: bool = False
    sentinel_password: str | None = None
    ssl_ca_certs: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def tls_options(self) -> dict[str, str]:
        """The ssl_* arguments of redis-py's clients that the URL set."""
        found = {name: getattr(self, name) for name in TLS_FILES}
        return {name: value for name, value in found.items() if value}


def parse_target(url: str) -> RedisTarget:
    """A `redis+sentinel://` or `redis+cluster://` URL; ValueError saying what is wrong."""
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    auth, _, hostlist = netloc.rpartition("@")
    options = _options(query)
    target = RedisTarget(
        scheme=scheme,
        hosts=tuple(_host(h) for h in hostlist.split(",")),
        password=_password(auth),
        tls=options.get("tls", "").lower() in _TRUE,
        sentinel_password=options.get("sentinel_password") or None,
        ssl_ca_certs=options.get("ssl_ca_certs") or None,
        ssl_certfile=options.get("ssl_certfile") or None,
        ssl_keyfile=options.get("ssl_keyfile") or None,
    )
    if target.tls_options() and not target.tls:
        # Ignored, the CA would leave the connections in plain text without a word.
        raise ValueError(f"{next(iter(target.tls_options()))} is for TLS: add tls=true")
    if target.ssl_keyfile and not target.ssl_certfile:
        raise ValueError("ssl_keyfile needs ssl_certfile (the client certificate it goes with)")
    if scheme == SENTINEL:
        service, db = _sentinel_path(path)
        return RedisTarget(**{**target.__dict__, "service": service, "db": db})
    if path.strip("/"):
        raise ValueError(f"{CLUSTER}:// takes no path (a cluster has only db 0), got /{path}")
    return target


def _options(query: str) -> dict[str, str]:
    found = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    unknown = sorted(set(found) - _OPTIONS)
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r}; known: {', '.join(sorted(_OPTIONS))}")
    return found


def _password(auth: str) -> str | None:
    # `[:password@]` as in redis://; a `user:` before the colon is kept out of the password.
    if not auth:
        return None
    return unquote(auth.partition(":")[2] if ":" in auth else auth) or None


def _host(item: str) -> tuple[str, int]:
    host, sep, port = item.strip().rpartition(":")
    if not sep or not host:
        raise ValueError(f"{item.strip()!r} is not host:port (list them as h1:p1,h2:p2)")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"port of {item.strip()!r} is not a number from 1 to 65535")
    return host.strip("[]"), int(port)


def _sentinel_path(path: str) -> tuple[str, int]:
    service, _, db = path.strip("/").partition("/")
    if not service:
        raise ValueError(f"{SENTINEL}:// needs the service name: …/<service name>[/db]")
    if db and not db.isdigit():
        raise ValueError(f"db {db!r} after the service name is not a number")
    return unquote(service), int(db or 0)
