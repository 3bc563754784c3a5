"""Real Redis HA topologies for the tests: a Sentinel set (primary, replicas, three sentinels)
and a Redis Cluster of three masters, with or without a replica each, in plain text or on
TLS only."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.crc import key_slot
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


# Without replicas nothing can take over a master, so nothing gains from noticing a death
# quickly; a long timeout keeps a busy CI machine's pauses from marking a node failed
# (a failed master without a replica takes the whole cluster down until it answers).
NODE_TIMEOUT_MS = 5000
# With replicas: a replica takes over a master that has not answered for this long (plus
# an election of about a second). Short, so a test's failover is over in a few seconds;
# as the sentinels' DOWN_AFTER_MS, slow enough that a loaded machine's pauses are not
# taken for deaths.
FAILOVER_NODE_TIMEOUT_MS = 1500


@dataclass(frozen=True)
class ClusterNodeView:
    """One line of `CLUSTER NODES`: what one node believes about a node."""

    node_id: str
    port: int
    flags: frozenset[str]
    master_id: str  # "-" for a master
    slots: tuple[tuple[int, int], ...]

    @property
    def serves_slots(self) -> bool:
        return "master" in self.flags and "fail" not in self.flags and bool(self.slots)

    def serves(self, slot: int) -> bool:
        return self.serves_slots and any(low <= slot <= high for low, high in self.slots)


def _parse_nodes(text: str) -> list[ClusterNodeView]:
    """`CLUSTER NODES`: `<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link>
    <slot ranges…>` (a range `a-b` or one slot; `[…]` migrating slots are skipped)."""
    views = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        address = fields[1].split("@")[0]
        ranges = []
        for spec in fields[8:]:
            if spec.startswith("["):
                continue
            low, _, high = spec.partition("-")
            ranges.append((int(low), int(high or low)))
        views.append(
            ClusterNodeView(
                node_id=fields[0],
                port=int(address.rpartition(":")[2]),
                flags=frozenset(fields[2].split(",")),
                master_id=fields[3],
                slots=tuple(ranges),
            )
        )
    return views


class ClusterSet:
    """`redis-server --cluster-enabled yes` nodes, slots split by `redis-cli --cluster create`
    over `masters` masters, each with `replicas` replicas (0: the tests of routing and hash
    tags; 1: the failover tests, which kill a master and wait for its replica to take over).
    """

    def __init__(
        self,
        workdir: Path,
        masters: int = 3,
        *,
        replicas: int = 0,
        appendonly: bool = True,
        password: str | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        self.password = password
        self.tls = tls
        self.replicas = replicas
        timeout = FAILOVER_NODE_TIMEOUT_MS if replicas else NODE_TIMEOUT_MS
        self.nodes: list[RedisServer] = []
        for n in range(masters * (1 + replicas)):
            node_dir = _mkdir(workdir / f"node{n}")
            extra = (
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(node_dir / "nodes.conf"),
                "--cluster-node-timeout",
                str(timeout),
                # The bus port defaults to port + 10000: past 65535 for a high free port.
                "--cluster-port",
                str(free_port()),
                # A replica's first sync starts at once (by default the master waits 5 s
                # for more replicas to share one transfer).
                "--repl-diskless-sync-delay",
                "0",
                # On TLS the bus is TLS too, and CLUSTER SLOTS names the TLS ports.
                *(("--tls-cluster", "yes") if tls else ()),
            )
            # appendonly (fsync always, tests.support): what a node acknowledged survives
            # its restart. A failover does not read the dead master's file: what its
            # replica had not received yet is lost (deploy/README.md).
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
                str(self.replicas),
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def stop(self) -> None:
        """Stop every node; all are asked at once (each flushes its AOF as it shuts down)."""
        for server in self.alive():
            assert server.proc is not None
            server.proc.terminate()
        for server in self.nodes:
            server.stop()  # waits for each, and kills one that does not end

    def alive(self) -> list[RedisServer]:
        """The nodes not killed."""
        return [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]

    async def ready(self) -> None:
        """Wait until every node sees all 16384 slots served and knows every other node,
        and every replica has had its first sync (it can take over its master)."""

        known = str(len(self.nodes))

        async def settled() -> bool:
            for node in self.nodes:
                async with self._client(node) as client:
                    info = await self._info(client)
                    replication = await client.info("replication")
                if info["cluster_state"] != "ok" or info["cluster_known_nodes"] != known:
                    return False
                if replication["role"] != "master" and replication["master_link_status"] != "up":
                    return False
            return True

        await eventually(settled, timeout=30, interval=0.1, message="cluster not ready")

    async def master_of(self, key: str) -> RedisServer:
        """The master that serves `key`'s slot now."""
        slot = key_slot(key.encode())
        home = next(v for v in await self.view(self.alive()[0]) if v.serves(slot))
        return self._node(home.port)

    async def kill_master(self, key: str) -> RedisServer:
        """SIGKILL the master serving `key` (a crash, no goodbye to the cluster); returns
        its replica, once that replica serves the slots and every node says so."""
        master = await self.master_of(key)
        views = await self.view(master)
        mine = next(v for v in views if "myself" in v.flags)
        replica = next(v for v in views if v.master_id == mine.node_id)
        master.kill()
        await self.promoted(replica.node_id, mine.slots)
        return self._node(replica.port)

    async def promoted(self, node_id: str, slots: tuple[tuple[int, int], ...]) -> None:
        """Wait until every living node says `cluster_state:ok` and names `node_id` the
        master of `slots` (the failed master's)."""

        async def taken_over() -> bool:
            for node in self.alive():
                async with self._client(node) as client:
                    if (await self._info(client))["cluster_state"] != "ok":
                        return False
                views = await self.view(node)
                heir = next((v for v in views if v.node_id == node_id), None)
                if heir is None or not heir.serves_slots or set(slots) - set(heir.slots):
                    return False
            return True

        await eventually(taken_over, timeout=30, interval=0.1, message="no replica promoted")

    async def view(self, node: RedisServer) -> list[ClusterNodeView]:
        """`CLUSTER NODES` as `node` sees the cluster."""
        async with self._client(node) as client:
            text: Any = await client.execute_command("CLUSTER", "NODES")  # type: ignore[no-untyped-call]
        return _parse_nodes(str(text))

    async def node_key_counts(self) -> dict[int, int]:
        """Keys each living master holds, by port (DBSIZE is per node on a cluster)."""
        counts: dict[int, int] = {}
        for view in await self.view(self.alive()[0]):
            if view.serves_slots:
                async with self._client(self._node(view.port)) as client:
                    counts[view.port] = int(await client.dbsize())
        return counts

    def _node(self, port: int) -> RedisServer:
        return next(n for n in self.nodes if n.port == port)

    @staticmethod
    async def _info(client: aioredis.Redis) -> dict[str, str]:
        """`CLUSTER INFO`'s `field:value` lines (redis-py leaves the reply untyped)."""
        info: Any = await client.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
        lines = (line.partition(":") for line in str(info).splitlines())
        return {name: value.strip() for name, _, value in lines}

    def _client(self, node: RedisServer) -> aioredis.Redis:
        """A plain client of one node (not routed: CLUSTER INFO, DBSIZE are per node)."""
        return aioredis.Redis(
            port=node.port, password=self.password, decode_responses=True, **node.client_options()
        )


@contextlib.contextmanager
def cluster_set(
    workdir: Path,
    *,
    replicas: int = 0,
    appendonly: bool = True,
    password: str | None = None,
    tls: TlsFiles | None = None,
) -> Iterator[ClusterSet]:
    """A started three-master cluster (with `replicas` per master), always stopped after."""
    cluster = ClusterSet(
        workdir, replicas=replicas, appendonly=appendonly, password=password, tls=tls
    )
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
