"""Real Redis HA topologies for the tests: a Sentinel set (primary, replicas, three sentinels)
and a Redis Cluster of three masters, each in plain text or on TLS only."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from tests.support import RedisServer, TlsFiles, eventually, free_port, wait_for_pong

SERVICE = "ftwatch"
# Quick to notice a dead primary (a test waits for it), slow enough that a busy CI
# machine's pauses are not taken for deaths.
DOWN_AFTER_MS = 1500
# A primary without a replica acknowledging within 5 s refuses writes (NOREPLICAS): the
# old primary stops taking writes the moment the sentinels promote another node.
GUARD = ("--min-replicas-to-write", "1", "--min-replicas-max-lag", "5")


class SentinelProcess:
    """One `redis-server --sentinel` on a free port, its config file in its own directory."""

    def __init__(self, workdir: Path, primary_port: int, tls: TlsFiles | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.primary_port = primary_port
        self.tls = tls
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server must be on PATH for the tests"
        conf = self.workdir / "sentinel.conf"  # sentinels rewrite it: a file of its own
        conf.write_text(
            f"bind 127.0.0.1\ndir {self.workdir}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary_port} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {SERVICE} 10000\n"
        )
        # On TLS the sentinels also reach the nodes and each other over TLS (and announce
        # their TLS port to each other): tls-replication is what sentinels read for that.
        listen = (
            (*self.tls.server_args(self.port), "--tls-replication", "yes")
            if self.tls
            else ("--port", str(self.port))
        )
        self.proc = subprocess.Popen(
            [binary, str(conf), "--sentinel", *listen],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_pong(self.port, self.tls)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


class SentinelSet:
    """A primary, two replicas and three sentinels watching them, all on 127.0.0.1.

    Two replicas, as deploy/kubernetes/overlays/ha runs: with min-replicas-to-write 1 the
    primary refuses writes once cut off from its replicas (what keeps a failover from
    losing them), so a primary left after one node died still needs a replica.
    """

    def __init__(self, workdir: Path, tls: TlsFiles | None = None) -> None:
        self.tls = tls
        # On TLS only: replicas reach their primary over TLS too.
        guard = (*GUARD, "--tls-replication", "yes") if tls else GUARD
        self.nodes = [RedisServer(_mkdir(workdir / "primary"), extra=guard, tls=tls)]
        replica_of = ("--replicaof", "127.0.0.1", str(self.nodes[0].port), *guard)
        for n in range(2):
            replica_dir = _mkdir(workdir / f"replica{n}")
            self.nodes.append(RedisServer(replica_dir, extra=replica_of, tls=tls))
        self.sentinels = [
            SentinelProcess(_mkdir(workdir / f"sentinel{n}"), self.nodes[0].port, tls)
            for n in range(3)
        ]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        query = f"?tls=true&{self.tls.url_query()}" if self.tls else ""
        return f"redis+sentinel://{hosts}/{SERVICE}/0{query}"

    def _client(self, port: int) -> aioredis.Redis:
        """A plain client of one node or sentinel (on TLS when the set is)."""
        options = self.tls.client_options() if self.tls else {}
        return aioredis.Redis(port=port, decode_responses=True, **options)

    def start(self) -> None:
        for server in self.nodes:
            server.start()
        for sentinel in self.sentinels:
            sentinel.start()

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for server in self.nodes:
            server.stop()

    async def primary_port(self) -> int:
        """The port the sentinels name as the primary now."""
        address = await self._sentinel(self.sentinels[0].port, "GET-MASTER-ADDR-BY-NAME")
        return int(address[1])  # redis-py parses it: (host, port)

    async def ready(self) -> None:
        """Wait until every sentinel knows the replica and the other sentinels."""

        async def known() -> bool:
            for sentinel in self.sentinels:
                info = await self._sentinel(sentinel.port, "MASTER")
                # redis-py parses the reply into a dict of typed fields
                if int(info["num-slaves"]) < 2 or int(info["num-other-sentinels"]) < 2:
                    return False
            return True

        await eventually(known, timeout=20, interval=0.1, message="sentinels not ready")
        # The replicas count for min-replicas-to-write once their first sync is done.
        await eventually(self._writable, timeout=20, interval=0.1, message="primary refuses writes")

    async def healed(self) -> None:
        """Wait until the primary has both replicas again (an old primary is demoted by
        the sentinels only ~8 s after a failover; until then it refuses writes)."""

        async def both() -> bool:
            port = await self.primary_port()
            async with self._client(port) as client:
                info = await client.info("replication")
            return int(info.get("connected_slaves", 0)) >= 2

        await eventually(both, timeout=30, interval=0.2, message="replicas did not rejoin")

    async def _writable(self) -> bool:
        port = await self.primary_port()
        async with self._client(port) as client:
            with contextlib.suppress(ResponseError):
                return bool(await client.set("ha:probe", "1", px=1000))
        return False

    async def failover(self) -> int:
        """SENTINEL FAILOVER (the replica made primary at once); returns the new primary."""
        before = await self.primary_port()
        await self._sentinel(self.sentinels[0].port, "FAILOVER")
        return await self._moved_from(before)

    async def kill_primary(self) -> int:
        """SIGKILL the primary; returns the port of the replica the sentinels promote."""
        before = await self.primary_port()
        next(n for n in self.nodes if n.port == before).kill()
        return await self._moved_from(before)

    async def disrupt(self) -> None:
        """SENTINEL FAILOVER once the set has healed from the one before (three nodes
        survive one failure at a time; the sentinels demote an old primary ~8 s after)."""
        await self.healed()
        await self.failover()

    async def _moved_from(self, before: int) -> int:
        async def moved() -> int:
            with contextlib.suppress(OSError):
                port = await self.primary_port()
                return port if port != before else 0
            return 0

        return await eventually(moved, timeout=30, interval=0.1, message="no failover")

    async def _sentinel(self, port: int, command: str) -> Any:
        """`SENTINEL <command> ftwatch` on one sentinel (redis-py leaves these untyped)."""
        async with self._client(port) as client:
            return await client.execute_command("SENTINEL", command, SERVICE)  # type: ignore[no-untyped-call]


class ClusterSet:
    """Three `redis-server --cluster-enabled yes` masters, slots split by `redis-cli --cluster
    create` (no replicas: the tests check routing and hash tags, not cluster failover)."""

    def __init__(
        self,
        workdir: Path,
        masters: int = 3,
        *,
        appendonly: bool = True,
        password: str | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        self.password = password
        self.tls = tls
        self.nodes: list[RedisServer] = []
        for n in range(masters):
            node_dir = _mkdir(workdir / f"node{n}")
            extra = (
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(node_dir / "nodes.conf"),
                "--cluster-node-timeout",
                "5000",
                # The bus port defaults to port + 10000: past 65535 for a high free port.
                "--cluster-port",
                str(free_port()),
                # On TLS the bus is TLS too, and CLUSTER SLOTS names the TLS ports.
                *(("--tls-cluster", "yes") if tls else ()),
            )
            self.nodes.append(RedisServer(node_dir, appendonly=appendonly, extra=extra, tls=tls))

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        hosts = ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)
        query = f"?tls=true&{self.tls.url_query()}" if self.tls else ""
        return f"redis+cluster://{auth}{hosts}{query}"

    def start(self) -> None:
        for server in self.nodes:
            server.start()
            if self.password:  # set after start: the start's PING check needs no password
                with redis.Redis(port=server.port, **server.client_options()) as client:
                    client.config_set("masterauth", self.password)
                    client.config_set("requirepass", self.password)
        binary = shutil.which("redis-cli")
        assert binary, "redis-cli must be on PATH for the cluster tests"
        hosts = [f"127.0.0.1:{n.port}" for n in self.nodes]
        auth = ["-a", self.password, "--no-auth-warning"] if self.password else []
        subprocess.run(
            [
                binary,
                *auth,
                *(self.tls.cli_args() if self.tls else ()),
                "--cluster",
                "create",
                *hosts,
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def stop(self) -> None:
        for server in self.nodes:
            server.stop()

    async def ready(self) -> None:
        """Wait until every node sees all 16384 slots served (the cluster gossip settled)."""

        async def settled() -> bool:
            for node in self.nodes:
                async with self._client(node) as client:
                    info: Any = await client.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
                if "cluster_state:ok" not in str(info):
                    return False
            return True

        await eventually(settled, timeout=30, interval=0.1, message="cluster not ready")

    async def node_key_counts(self) -> dict[int, int]:
        """Keys each master holds, by port (DBSIZE is per node on a cluster)."""
        counts: dict[int, int] = {}
        for node in self.nodes:
            async with self._client(node) as client:
                counts[node.port] = int(await client.dbsize())
        return counts

    def _client(self, node: RedisServer) -> aioredis.Redis:
        """A plain client of one node (not routed: CLUSTER INFO, DBSIZE are per node)."""
        return aioredis.Redis(
            port=node.port, password=self.password, decode_responses=True, **node.client_options()
        )


@contextlib.contextmanager
def cluster_set(
    workdir: Path,
    *,
    appendonly: bool = True,
    password: str | None = None,
    tls: TlsFiles | None = None,
) -> Iterator[ClusterSet]:
    """A started three-master cluster, always stopped afterwards."""
    cluster = ClusterSet(workdir, appendonly=appendonly, password=password, tls=tls)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


@contextlib.contextmanager
def sentinel_set(workdir: Path, tls: TlsFiles | None = None) -> Iterator[SentinelSet]:
    """A started Sentinel set, always stopped afterwards."""
    ha = SentinelSet(workdir, tls)
    try:
        ha.start()
        yield ha
    finally:
        ha.stop()
