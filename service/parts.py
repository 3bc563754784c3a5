"""The app's parts as cleanup contexts, in dependency order: Redis → HTTP → loops.

Each context starts its part on app startup and stops it on cleanup; a context's
cleanup runs only if its startup finished (aiohttp), so a failed start unwinds cleanly.
Every background loop runs under the app's one Supervisor (workers/supervisor.py):
the loop contexts only start theirs, and `loops_ctx` stops them all, bounded.
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import AsyncIterator

import aiohttp
import structlog
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from service import keys
from service.providers.build import Parts, build_providers
from service.settings import Settings, environment
from service.store import keys as store_keys
from service.store.connection import connect_redis
from service.store.decisions import DecisionStore
from service.store.effects import Effects
from service.store.embedded import EmbeddedRedis
from service.store.jobs import JobStore
from service.store.migrate import migrate
from service.store.rule_state import RuleStateStore
from service.store.schedule import Schedule
from service.store.scripts import Scripts
from workers.actions.executor import ActionExecutor
from workers.actions.queue import ActionQueueHandler, move_delayed
from workers.notify.context import delivery_config
from workers.notify.worker import DeliveryWorker
from workers.poller.backpressure import BackPressure
from workers.poller.job_poll import JobPoller
from workers.poller.runner import Poller
from workers.rules.ticker import RuleTicker
from workers.rules.worker import RuleWorker
from workers.stream.consumer import GroupConfig, StreamConsumer, one_by_one
from workers.stream.pending import report_pending

log = structlog.get_logger(__name__)

# Loops get this long to finish in-flight work on shutdown; well inside Kubernetes'
# default 30 s grace period so the process exits 0 before it is killed.
LOOP_STOP_TIMEOUT = 15.0
RULES_GROUP = "rules"
# Entries per read of the rules consumer when a backlog exists (a caught-up read takes
# what there is). A batch's cost is mostly per job (one state loaded, one commit
# written), so a backlog is drained fastest when each job has several events in a
# batch: 500 made bench.pipeline's one worker ~20% faster than 100, and one batch's
# commit script still runs in a few milliseconds.
RULES_BATCH = 500
ACTIONS_GROUP = "actions"


def replica_name(settings: Settings) -> str:
    """A stable, unique name per process: the pod's hostname plus the pid."""
    return settings.replica_name or f"{socket.gethostname()}-{os.getpid()}"


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    """Connect to FTWATCH_REDIS_URL, or start the embedded Redis when it is unset."""
    settings = app[keys.SETTINGS]
    embedded: EmbeddedRedis | None = None
    url = settings.redis_url
    if not url:
        embedded = EmbeddedRedis(settings.data_dir)
        url = await embedded.start()
    client = connect_redis(url)
    await _migrate(client, replica_name(settings))
    scripts = Scripts(client)
    app[keys.REDIS] = client
    app[keys.SCRIPTS] = scripts
    app[keys.JOBS] = JobStore(
        client, scripts, maxlen=settings.stream_maxlen, window=settings.seen_window
    )
    app[keys.SCHEDULE] = Schedule(client, scripts, replica_name(settings))
    app[keys.DECISIONS] = DecisionStore(client)
    try:
        yield
    finally:
        await client.aclose()
        if embedded is not None:
            await embedded.stop()


async def _migrate(client: Redis, owner: str) -> None:
    if store_keys.clustered():
        return  # the old layouts migrate.py upgrades were only ever on one Redis
    try:
        await migrate(client, owner)
    except RedisError as exc:  # Redis down at start: the next start migrates (idempotent)
        log.warning("migration_skipped", error=str(exc), hint="data is migrated on next start")


async def upstream_ctx(app: web.Application) -> AsyncIterator[None]:
    """The process's one client session, the upstream client and the action executor."""
    session = aiohttp.ClientSession()
    app[keys.SESSION] = session
    parts = Parts(session, app[keys.SETTINGS], app[keys.METRICS], app[keys.SCRIPTS])
    providers = build_providers(parts, app[keys.RULES].providers)
    app[keys.PROVIDERS] = providers
    effects = Effects(app[keys.REDIS], app[keys.SCRIPTS])
    app[keys.ACTIONS] = ActionExecutor(
        providers, effects, app[keys.METRICS], decisions=app[keys.DECISIONS]
    )
    try:
        yield
    finally:
        await session.close()


async def loops_ctx(app: web.Application) -> AsyncIterator[None]:
    """On cleanup, stop every supervised loop: all at once, within LOOP_STOP_TIMEOUT."""
    yield
    await app[keys.SUPERVISOR].stop(LOOP_STOP_TIMEOUT)


async def poller_ctx(app: web.Application) -> AsyncIterator[None]:
    settings, metrics = app[keys.SETTINGS], app[keys.METRICS]
    # A status unconfirmed for three sweeps is read with the job's next poll.
    stale = 3 * settings.discovery_interval + settings.poll_interval
    job_poller = JobPoller(app[keys.PROVIDERS], app[keys.JOBS], metrics, stale_after=stale)
    poller = Poller(
        app[keys.PROVIDERS],
        job_poller,
        schedule=app[keys.SCHEDULE],
        jobs=app[keys.JOBS],
        metrics=metrics,
        settings=settings,
        backpressure=BackPressure(app[keys.SCRIPTS], settings.backlog_bound, group=RULES_GROUP),
        rates={
            spec.name: spec.max_requests_per_second or settings.max_requests_per_second
            for spec in app[keys.RULES].providers
        },
    )
    stop = app[keys.STOPPING]
    app[keys.SUPERVISOR].start("poller", lambda: poller.run(stop))
    yield


async def worker_ctx(app: web.Application) -> AsyncIterator[None]:
    """Rule evaluation, action execution, delayed actions, timer rules, pending gauges."""
    settings, metrics, client = app[keys.SETTINGS], app[keys.METRICS], app[keys.REDIS]
    stop, name = app[keys.STOPPING], replica_name(settings)
    idle_ms = int(settings.claim_idle_seconds * 1000)
    store = RuleStateStore(client, app[keys.SCRIPTS], group=RULES_GROUP)
    rules = app[keys.RULES]
    # One reader per partition's stream (one on one Redis): a cluster reads one slot per
    # XREADGROUP, and a partition's entries are its jobs' only (keys.py).
    events = [
        StreamConsumer(
            client,
            GroupConfig(
                store_keys.events_stream(p),
                RULES_GROUP,
                name,
                store_keys.dead_events_stream(p),
                claim_idle_ms=idle_ms,
                batch=RULES_BATCH,
            ),
            RuleWorker(rules, store, metrics).handle_batch,
        )
        for p in store_keys.partitions()
    ]
    actions = [
        StreamConsumer(
            client,
            GroupConfig(
                store_keys.action_queue(p),
                ACTIONS_GROUP,
                name,
                store_keys.dead_actions_stream(p),
                claim_idle_ms=idle_ms * 2,
            ),
            one_by_one(ActionQueueHandler(app[keys.ACTIONS]).handle),
        )
        for p in store_keys.partitions()
    ]
    ticker = RuleTicker(
        rules,
        store,
        app[keys.JOBS],
        app[keys.SCHEDULE],
        metrics,
        interval=settings.rule_tick_interval,
    )
    effects = Effects(client, app[keys.SCRIPTS])
    supervisor = app[keys.SUPERVISOR]
    for p, (rules_reader, queue_reader) in enumerate(zip(events, actions, strict=True)):
        suffix = f":{p}" if p else ""
        supervisor.start("rules-worker" + suffix, functools.partial(rules_reader.run, stop))
        supervisor.start("action-queue" + suffix, functools.partial(queue_reader.run, stop))
    supervisor.start("delayed-actions", lambda: move_delayed(effects, stop))
    supervisor.start("rules-ticker", lambda: ticker.run(stop))
    supervisor.start("stream-pending", lambda: report_pending([*events, *actions], metrics, stop))
    yield


async def delivery_ctx(app: web.Application) -> AsyncIterator[None]:
    """The delivery worker (roles `all` and `worker`), its loops under the app's supervisor.

    Register after the Redis and upstream contexts: it takes their client, scripts and the
    process's one ClientSession."""
    settings = app[keys.SETTINGS]
    worker = DeliveryWorker(
        app[keys.REDIS],
        app[keys.SCRIPTS],
        app[keys.SESSION],
        app[keys.RULES],
        app[keys.METRICS],
        consumer=replica_name(settings),
        environ=environment(),
        config=delivery_config(settings),
    )
    supervisor = app[keys.SUPERVISOR]
    for name, factory in worker.loops(app[keys.STOPPING]).items():
        supervisor.start(name, factory)
    yield
