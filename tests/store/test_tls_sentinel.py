"""A Sentinel set on TLS only, sentinels and replication included
(`redis+sentinel://…?tls=true&ssl_ca_certs=`): the master is found through the sentinels
and reached over TLS; a wrong CA says so. (Following a failover is the plain-text pipeline
test's: the client asks the sentinels again in the same way.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from service.store.audit import AuditLog
from service.store.connection import connect_redis
from service.store.tls import RedisTLSError
from tests.ha import SentinelSet, sentinel_set
from tests.store.test_audit import firing
from tests.support import TlsFiles


@pytest.fixture
async def tls_sentinels(tmp_path: Path, tls_files: TlsFiles) -> AsyncIterator[SentinelSet]:
    with sentinel_set(tmp_path / "ha", tls_files) as ha:
        await ha.ready()
        yield ha


async def test_the_master_is_found_and_reached_over_tls(
    tls_sentinels: SentinelSet, tmp_path: Path
) -> None:
    url = tls_sentinels.url
    assert "?tls=true&ssl_ca_certs=" in url
    client = connect_redis(url)
    try:
        audit = AuditLog(client)
        await audit.record(firing(1))
        await audit.record(firing(2))
        assert [f.firing_id for _, f in (await audit.page()).items] == ["f2", "f1"]
        info = await client.info("replication")
        assert info["role"] == "master" and int(info["connected_slaves"]) >= 1  # over TLS too
    finally:
        await client.aclose()

    assert tls_sentinels.tls is not None
    other = TlsFiles.issue(tmp_path / "other")
    wrong = connect_redis(url.replace(quote(str(tls_sentinels.tls.ca)), quote(str(other.ca))))
    try:
        with pytest.raises(RedisConnectionError) as refused:
            await wrong.ping()
    finally:
        await wrong.aclose()
    error = refused.value
    assert isinstance(error, RedisTLSError), error
    assert "TLS with the sentinel at 127.0.0.1:" in str(error)
    assert "certificate verify failed" in str(error) and "ssl_ca_certs=" in str(error)
