"""FTWATCH_REDIS_URL's Sentinel and Cluster forms: what ftwatch connects to, or why not."""

from __future__ import annotations

import dataclasses

import pytest

from service.cli import load_settings
from service.config_check import ConfigError
from service.redis_target import RedisTarget, parse_target
from tests.support import TlsFiles


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_db() -> None:
    target = parse_target("redis+sentinel://:s%40cret@s1:26379,10.0.0.2:26380/mymaster/2")
    assert target == RedisTarget(
        scheme="redis+sentinel",
        hosts=(("s1", 26379), ("10.0.0.2", 26380)),
        password="s@cret",
        service="mymaster",
        db=2,
    )


def test_a_sentinel_url_without_db_uses_db_0_and_tls_is_an_option() -> None:
    target = parse_target("redis+sentinel://s1:26379/mymaster?tls=true&sentinel_password=x")
    assert (target.db, target.tls, target.password, target.sentinel_password) == (
        0,
        True,
        None,
        "x",
    )


def test_a_cluster_url_lists_its_seed_nodes() -> None:
    target = parse_target("redis+cluster://:pw@n1:7000,n2:7001")
    assert (target.hosts, target.password, target.tls) == (
        (("n1", 7000), ("n2", 7001)),
        "pw",
        False,
    )


def test_a_cluster_url_with_a_password_and_tls_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "redis+cluster://:pw@n1:7000,n2:7001?tls=true"
    monkeypatch.setenv("FTWATCH_REDIS_URL", url)
    assert load_settings().redis_url == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+sentinel://s1:26379", "needs the service name"),
        ("redis+sentinel://s1:26379/mymaster/zero", "db 'zero' after the service name"),
        ("redis+sentinel://s1/mymaster", "'s1' is not host:port"),
        ("redis+cluster://n1:7000,n2:http", "port of 'n2:http' is not a number"),
        ("redis+cluster://n1:7000/3", "takes no path"),
        ("redis+cluster://n1:7000?ssl=1", "unknown option 'ssl'; known: sentinel_password, "),
        ("redis+cluster://n1:7000?ssl_ca_certs=/ca.pem", "ssl_ca_certs is for TLS: add tls=true"),
        ("redis+sentinel://s1:1/m?tls=1&ssl_keyfile=/k.pem", "ssl_keyfile needs ssl_certfile"),
        ("redis+cluster://n1:7000?tls=true&ssl_ca_certs=/nowhere.pem", "no file /nowhere.pem"),
        ("rediss://r1:6379/0?ssl_ca_certs=/nowhere.pem", "ssl_ca_certs: no file /nowhere.pem"),
        ("redis+cluster://", "needs at least one host:port"),
        ("memcached://m1:11211", "scheme 'memcached://' is not supported"),
    ],
)
def test_a_bad_redis_url_stops_the_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, url: str, problem: str
) -> None:
    monkeypatch.setenv("FTWATCH_REDIS_URL", url)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    [message] = refused.value.problems
    assert message.startswith("FTWATCH_REDIS_URL: ")
    assert problem in message


def test_the_tls_files_of_a_multi_node_url_are_what_its_clients_get() -> None:
    url = "redis+cluster://n1:7000?tls=true&ssl_ca_certs=/run/ca.pem&ssl_certfile=/run/c.pem"
    assert parse_target(url).tls_options() == {
        "ssl_ca_certs": "/run/ca.pem",
        "ssl_certfile": "/run/c.pem",
    }
    sentinel = parse_target("redis+sentinel://s1:26379/mymaster?tls=yes&ssl_ca_certs=%2Fa%20b.pem")
    assert (sentinel.tls, sentinel.ssl_ca_certs, sentinel.service) == (True, "/a b.pem", "mymaster")


@pytest.mark.parametrize("scheme", ["rediss://r1:6379/0?", "redis+cluster://n1:7000?tls=true&"])
def test_a_ca_file_that_holds_no_certificate_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, tls_files: TlsFiles, scheme: str
) -> None:
    monkeypatch.setenv("FTWATCH_REDIS_URL", f"{scheme}ssl_ca_certs={tls_files.key}")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    [message] = refused.value.problems
    assert message.startswith(f"FTWATCH_REDIS_URL: ssl_ca_certs: {tls_files.key} holds no PEM")
    # The real files pass, the client certificate with its key too.
    url = scheme + dataclasses.replace(tls_files, auth_clients=True).url_query()
    monkeypatch.setenv("FTWATCH_REDIS_URL", url)
    assert load_settings().redis_url == url
