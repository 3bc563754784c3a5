"""Every Prometheus metric of SPEC §8, on a registry of its own per process (or test app)."""

from __future__ import annotations

import contextlib
import math
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from service.models.ident import JobRef
from service.models.job import JobSnapshot

# Upstream calls take 50 ms to a few seconds; retries with backoff can reach a minute.
_UPSTREAM_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Event-to-action spans a poll interval (10 s default) plus queueing: up to minutes.
_ACTION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 300, 600)
_DELIVERY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """The metrics of one ftwatch process; job-labelled series are capped (SPEC §8)."""

    def __init__(
        self,
        max_job_series: int = 500,
        retention_seconds: float = 3600.0,
        max_job_metrics: int = 64,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events_ingested = Counter(
            "ftwatch_events_ingested_total",
            "Events appended to the stream.",
            ["source", "type"],
            registry=r,
        )
        self.events_rejected = Counter(
            "ftwatch_events_rejected_total",
            "Upstream or ingested events refused as malformed.",
            ["source", "reason"],
            registry=r,
        )
        self.job_metric = Gauge(
            "ftwatch_job_metric",
            "Latest value of a job's training metric.",
            ["provider", "job_id", "metric"],
            registry=r,
        )
        self.job_step = Gauge(
            "ftwatch_job_step", "Latest step of a job.", ["provider", "job_id"], registry=r
        )
        self.jobs_watched = Gauge(
            "ftwatch_jobs_watched",
            "Jobs being watched, by provider and status.",
            ["provider", "status"],
            registry=r,
        )
        self.job_series_dropped = Counter(
            "ftwatch_job_series_dropped_total",
            "Job-labelled samples refused because FTWATCH_MAX_JOB_SERIES was reached.",
            registry=r,
        )
        self.job_metrics_dropped = Counter(
            "ftwatch_job_metrics_dropped_total",
            "Metric samples of a job not exported because FTWATCH_MAX_JOB_METRICS was reached.",
            registry=r,
        )
        self.rule_firings = Counter(
            "ftwatch_rule_firings_total", "Rule firings.", ["rule"], registry=r
        )
        self.actions = Counter(
            "ftwatch_actions_total",
            "Actions requested by rules or the API, by outcome.",
            ["action", "outcome"],
            registry=r,
        )
        # Every outcome the executor records starts at 0: a series that first appears at 1
        # has no increase() until it moves again, so the dashboard's action annotations
        # would miss each first action of a kind.
        for action in ("pause", "resume", "cancel"):
            for outcome in ("ok", "already", "failed", "skipped", "unsupported"):
                self.actions.labels(action, outcome)
        self.webhook_deliveries = Counter(
            "ftwatch_webhook_deliveries_total",
            "Webhook delivery outcomes: ok, retry, dead, skipped, duplicate.",
            ["receiver", "outcome"],
            registry=r,
        )
        self.webhook_latency = Histogram(
            "ftwatch_webhook_delivery_duration_seconds",
            "Duration of one webhook attempt.",
            ["receiver"],
            buckets=_DELIVERY_BUCKETS,
            registry=r,
        )
        self.dead_letters = Gauge(
            "ftwatch_webhook_dead_letters", "Entries in the dead-letter stream.", registry=r
        )
        self.upstream_requests = Counter(
            "ftwatch_upstream_requests_total",
            "Requests to the upstream API by provider, endpoint and code.",
            ["provider", "endpoint", "code"],
            registry=r,
        )
        self.poll_errors = Counter(
            "ftwatch_poll_errors_total",
            "Job polls that failed on an unexpected error (see poll_crashed logs); retried.",
            ["provider"],
            registry=r,
        )
        self.poll_predictions = Counter(
            "ftwatch_poll_predictions_total",
            "Predicted polls by outcome: hit (the poll read the expected event), early (it"
            " found nothing yet), late (the event came well before the prediction).",
            ["outcome"],
            registry=r,
        )
        self.upstream_duration = Histogram(
            "ftwatch_upstream_request_duration_seconds",
            "Duration of upstream requests.",
            ["provider", "endpoint"],
            buckets=_UPSTREAM_BUCKETS,
            registry=r,
        )
        self.event_to_action = Histogram(
            "ftwatch_event_to_action_seconds",
            "From an event's creation upstream to the success of the action it caused.",
            buckets=_ACTION_BUCKETS,
            registry=r,
        )
        self.stream_pending = Gauge(
            "ftwatch_stream_pending",
            "Entries delivered but not yet acknowledged.",
            ["stream"],
            registry=r,
        )
        self.loop_restarts = Counter(
            "ftwatch_loop_restarts_total",
            "Restarts of a background loop after it crashed (see /readyz and loop_crashed logs).",
            ["loop"],
            registry=r,
        )
        self._max_job_series = max_job_series
        self._max_job_metrics = max_job_metrics
        self._retention = retention_seconds
        self._job_metrics: dict[JobRef, set[str]] = {}
        self._terminal_since: dict[JobRef, float] = {}

    def observe_job(self, job: JobSnapshot) -> None:
        """Set a job's step and metric gauges, unless the series cap refuses a new job.

        `total_steps` is exported as a metric too: with the step it gives the job's ETA.
        """
        ref = job.ref
        if ref not in self._job_metrics:
            if len(self._job_metrics) >= self._max_job_series:
                self.job_series_dropped.inc()
                return
            self._job_metrics[ref] = set()
        names = self._job_metrics[ref]
        if job.step is not None:
            self.job_step.labels(ref.provider, ref.id).set(job.step)
        values = dict(job.metrics)
        if job.total_steps is not None:
            values["total_steps"] = float(job.total_steps)
        for name, value in values.items():
            if name == "step" or not math.isfinite(value):
                continue
            if name not in names and len(names) >= self._max_job_metrics:
                # Each name is a series: a trainer pushing thousands of names must not
                # grow the scrape without bound (the rules still see every value).
                self.job_metrics_dropped.inc()
                continue
            names.add(name)
            self.job_metric.labels(ref.provider, ref.id, name).set(value)

    def job_terminal(self, ref: JobRef, now: float | None = None) -> None:
        """Start the retention clock of a finished job's series."""
        self._terminal_since.setdefault(ref, now if now is not None else time.time())

    def expire_job_series(self, now: float | None = None) -> list[JobRef]:
        """Remove series of jobs terminal for longer than the retention; return them."""
        now = now if now is not None else time.time()
        expired = [j for j, t in self._terminal_since.items() if now - t >= self._retention]
        for ref in expired:
            self.forget_job(ref)
        return expired

    def forget_job(self, ref: JobRef) -> None:
        """Remove every series of a job at once."""
        self._terminal_since.pop(ref, None)
        for name in self._job_metrics.pop(ref, set()):
            self.job_metric.remove(ref.provider, ref.id, name)
        with contextlib.suppress(KeyError):  # a job may never have reported a step
            self.job_step.remove(ref.provider, ref.id)
