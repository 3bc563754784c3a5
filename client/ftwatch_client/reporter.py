"""`Reporter`: pushes a training loop's events to ftwatch and hands back its decisions.

Everything that talks to ftwatch runs on two daemon threads (a sender, a decision
long-poll); the training loop's calls only append to a bounded queue. When ftwatch is slow
or down the loop loses old events, never time, and never sees an exception.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import re
import secrets
import threading
import time
import urllib.parse
import weakref
from collections.abc import Mapping
from typing import Any

from ftwatch_client.buffer import Backoff, Buffer, Event, Health
from ftwatch_client.decision import Decision, decisions_of_reply, parse_decision
from ftwatch_client.transport import Reply, exchange

log = logging.getLogger("ftwatch_client")

STATUSES = ("validating", "queued", "running", "paused", "succeeded", "failed", "cancelled")
METHODS = ("supervised", "dpo", "reinforcement")
# The ingest API takes at most 500 events and 1 MiB per request; 100 events of up to 250
# metrics stay under the byte limit too.
BATCH_SIZE = 100


def _env(value: str | None, name: str) -> str | None:
    return value if value is not None else (os.environ.get(name) or None)


def _check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"FTWATCH_URL / url={url!r}: give ftwatch's base URL, e.g. http://ftwatch:8080"
        )
    return url.rstrip("/")


# ftwatch's job id alphabet (the ingest API refuses any other id, and every batch with it).
_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,255}")


def _check_job_id(job_id: str) -> str:
    if not _JOB_ID.fullmatch(job_id):
        raise ValueError(
            f"FTWATCH_JOB_ID / job_id={job_id!r}: use letters, digits and _ . : - "
            "(at most 256, starting with a letter or digit)"
        )
    return job_id


def _default_job_id() -> str:
    return f"run-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


class Reporter:
    """Sends events of one job to ftwatch (`FTWATCH_URL`, `FTWATCH_INGEST_TOKEN`,
    `FTWATCH_JOB_ID` when not given); without a URL it is a no-op that never sends."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        job_id: str | None = None,
        *,
        method: str | None = None,
        model: str | None = None,
        metadata: Mapping[str, str] | None = None,
        max_queue: int = 5000,
        flush_interval: float = 1.0,
        heartbeat: float = 60.0,
        decision_wait: float = 30.0,
        timeout: float = 10.0,
    ) -> None:
        found = _env(url, "FTWATCH_URL")
        self.url = _check_url(found) if found else None
        self.token = _env(token, "FTWATCH_INGEST_TOKEN")
        self.job_id = _check_job_id(_env(job_id, "FTWATCH_JOB_ID") or _default_job_id())
        if method is not None and method not in METHODS:
            raise ValueError(f"method={method!r}: must be one of {', '.join(METHODS)}")
        self._facts = _facts(method, model, metadata)
        self.flush_interval, self.heartbeat = flush_interval, heartbeat
        self.decision_wait, self.timeout = decision_wait, timeout
        self._buffer = Buffer(max_queue, wake_at=BATCH_SIZE)
        self._health = Health(self.url or "")
        self._state = _DecisionState()
        self._acks: list[dict[str, Any]] = []
        self._run = secrets.token_hex(4)  # event ids stay unique across restarts of the job
        self._seq = itertools.count()
        self._last_put = 0.0
        self._ingested = threading.Event()
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []
        if self.url:
            self._start()

    # The training loop's side: cheap, never blocking, never raising for ftwatch's sake.

    @property
    def enabled(self) -> bool:
        return self.url is not None

    @property
    def dropped(self) -> int:
        """Events lost because the queue was full (ftwatch slow or unreachable)."""
        return self._buffer.dropped

    @property
    def failures(self) -> int:
        """Requests that got no answer or a try-later one (the outage's size)."""
        return self._health.failures

    @property
    def queued(self) -> int:
        return len(self._buffer)

    @property
    def decision(self) -> Decision | None:
        """The pending decision (pause or cancel) not yet acknowledged, or None."""
        return self._state.pending

    def log(
        self, step: int, metrics: Mapping[str, float], *, total_steps: int | None = None
    ) -> None:
        """One step's (or one evaluation's) metrics, under the rule names."""
        data: dict[str, Any] = {"step": int(step), **metrics}
        if total_steps is not None:
            data["total_steps"] = int(total_steps)
        self._put({"type": "metrics", "data": data})

    def status(self, status: str) -> None:
        """The job's lifecycle status as the trainer knows it (`running`, `succeeded`, ...)."""
        if status not in STATUSES:
            raise ValueError(f"status={status!r}: must be one of {', '.join(STATUSES)}")
        self._put({"type": "message", "message": f"trainer: {status}", "status": status})

    def beat(self, step: int) -> None:
        """Called by the loop on every step: an event at most every `heartbeat` seconds.

        Only progress of the loop sends it (never the sender thread on its own), so a
        hung training still goes quiet and ftwatch's `stalled` rule still fires.
        """
        if self.enabled and time.monotonic() - self._last_put >= self.heartbeat:
            self._put({"type": "message", "message": "heartbeat", "data": {"step": int(step)}})

    def ack(
        self,
        decision: Decision,
        outcome: str,
        checkpoint: str | None = None,
        message: str | None = None,
    ) -> None:
        """Tell ftwatch what was done about `decision` (sent in the background, retried)."""
        self._state.acted(decision)
        if not self.enabled:
            return
        body: dict[str, Any] = {"outcome": outcome}
        if checkpoint is not None:
            body["checkpoint"] = checkpoint
        if message is not None:
            body["message"] = message[:2000]
        with self._buffer.lock:
            self._acks.append({"decision": decision, "body": body})
            self._buffer.lock.notify()

    def close(self, timeout: float = 5.0) -> bool:
        """Send what is queued for at most `timeout` seconds; True when nothing was left."""
        if self._closing.is_set() or not self._threads:
            self._closing.set()
            return not self._pending_work()
        self._closing.set()
        with self._buffer.lock:
            self._buffer.lock.notify_all()
        self._threads[0].join(timeout)
        left = self._pending_work()
        if left:
            log.warning("ftwatch: %d events and %d acks not sent at close", *left)
        return not left

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Internals.

    def _put(self, body: Event) -> None:
        if not self.enabled or self._closing.is_set():
            return
        body.update(
            job_id=self.job_id,
            event_id=f"{self._run}-{next(self._seq)}",
            created_at=int(time.time()),
        )
        self._last_put = time.monotonic()
        self._buffer.put(body)

    def _pending_work(self) -> tuple[int, int] | None:
        with self._buffer.lock:
            counts = (len(self._buffer), len(self._acks))
        return counts if any(counts) else None

    def _start(self) -> None:
        for target, name in ((self._send_loop, "sender"), (self._poll_loop, "decisions")):
            thread = threading.Thread(target=target, name=f"ftwatch-{name}", daemon=True)
            self._threads.append(thread)
            thread.start()
        ref = weakref.ref(self)
        atexit.register(lambda: (r := ref()) is not None and r.close(2.0))

    # The sender thread.

    def _send_loop(self) -> None:
        backoff = Backoff()
        while True:
            closing = self._closing.is_set()
            delay = self._send_once(backoff)
            if closing and (delay is not None or not self._pending_work()):
                return  # closing: one more try at everything, then stop
            if delay is not None:
                self._closing.wait(delay)  # backing off: only close cuts it short
            else:
                self._idle()

    def _idle(self) -> None:
        """Until the flush interval ends, a batch fills up, an ack is queued, or close."""
        with self._buffer.lock:
            busy = len(self._buffer) >= BATCH_SIZE or self._acks
            if not self._closing.is_set() and not busy:
                self._buffer.lock.wait(self.flush_interval)

    def _send_once(self, backoff: Backoff) -> float | None:
        """Send the acks, then the queue in batches; the delay to wait after a failure."""
        try:
            reply = self._send_acks() or self._send_events()
        except Exception:  # a bug of ours must not kill the thread (or the training)
            log.exception("ftwatch: unexpected error in the sender; retrying")
            return backoff.next_delay()
        if reply is None or reply.ok:
            backoff.reset()
            return None
        return backoff.next_delay(reply.retry_after)

    def _post(self, path: str, payload: Any, timeout: float | None = None) -> Reply:
        assert self.url is not None
        reply = exchange(
            "POST", self.url + path, self.token, payload, timeout=timeout or self.timeout
        )
        self._observe(reply)
        return reply

    def _observe(self, reply: Reply) -> None:
        if reply.ok or not reply.retryable:
            self._health.succeeded(self.dropped)
        else:
            self._health.failed(reply.error)

    def _send_acks(self) -> Reply | None:
        with self._buffer.lock:
            acks = list(self._acks)
        for item in acks:
            decision: Decision = item["decision"]
            path = f"/v1/jobs/{_quote(self.job_id)}/decision/{_quote(decision.id)}/ack"
            reply = self._post(path, item["body"])
            if reply.retryable:
                return reply
            if not reply.ok:
                log.warning("ftwatch refused the ack of decision %s: %s", decision.id, reply.error)
            with self._buffer.lock:
                self._acks.remove(item)
        return None

    def _send_events(self) -> Reply | None:
        batch = self._buffer.take(BATCH_SIZE)
        while batch:
            reply = self._post("/v1/ingest/events", {"events": self._with_facts(batch)})
            if reply.retryable:
                self._buffer.put_back(batch)
                return reply
            self._after_ingest(reply, len(batch))
            batch = self._buffer.take(BATCH_SIZE)
        return None

    def _with_facts(self, batch: list[Event]) -> list[Event]:
        """The job's facts (method, model, metadata) ride on each batch's first event."""
        return [{**self._facts, **batch[0]}, *batch[1:]] if self._facts else batch

    def _after_ingest(self, reply: Reply, count: int) -> None:
        if not reply.ok:
            # 4xx: this batch can never be stored as it is (a bug, or a wrong token); say
            # why and go on rather than retrying it forever.
            log.warning("ftwatch refused %d events: %s", count, reply.error)
            return
        self._ingested.set()
        for decision in decisions_of_reply(reply.body, self.job_id):
            self._state.offer(decision)

    # The decision thread: a long-poll, for loops that log rarely.

    def _poll_loop(self) -> None:
        backoff = Backoff(base=1.0, cap=60.0)
        while not self._closing.is_set():
            if not self._ingested.is_set() or self._state.pending is not None:
                self._closing.wait(0.2)  # nothing to ask before the job exists / after a decision
                continue
            delay = self._poll_once(backoff)
            if delay:
                self._closing.wait(delay)

    def _poll_once(self, backoff: Backoff) -> float:
        assert self.url is not None
        wait = self.decision_wait
        url = f"{self.url}/v1/jobs/{_quote(self.job_id)}/decision?wait={wait:g}"
        try:
            reply = exchange("GET", url, self.token, timeout=wait + self.timeout)
        except Exception:  # never let the thread die: decisions would stop arriving
            log.exception("ftwatch: unexpected error in the decision poll")
            return backoff.next_delay()
        if reply.status == 200:
            decision = parse_decision(reply.body)
            if decision is not None:
                self._state.offer(decision)
        if reply.status in (200, 204):
            backoff.reset()
            return 0.0
        if self._closing.is_set():
            return 0.0  # cut off by our own close: no outage to report
        self._observe(reply)
        # 404 (an ftwatch without decisions) or 401/403: ask rarely; the ingest reply
        # still carries decisions.
        return backoff.next_delay(reply.retry_after) if reply.retryable else backoff.cap


class _DecisionState:
    """The pending decision, and the ones already acted on (a decision is delivered at
    least once but acted on once)."""

    def __init__(self) -> None:
        self.pending: Decision | None = None
        self._done: set[str] = set()
        self._lock = threading.Lock()

    def offer(self, decision: Decision) -> None:
        with self._lock:
            if decision.id in self._done or self.pending is not None:
                return
            self.pending = decision
        log.warning(
            "ftwatch decided: %s (rule %s: %s)", decision.action, decision.rule, decision.reason
        )

    def acted(self, decision: Decision) -> None:
        with self._lock:
            self._done.add(decision.id)
            if self.pending is not None and self.pending.id == decision.id:
                self.pending = None


def _facts(method: str | None, model: str | None, metadata: Mapping[str, str] | None) -> Event:
    facts: Event = {"method": method, "model": model, "metadata": dict(metadata or {})}
    return {k: v for k, v in facts.items() if v}


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")
