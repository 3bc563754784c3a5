"""Per-job series are bounded: a cap, a dropped counter, removal after retention."""

from __future__ import annotations

from prometheus_client import generate_latest

from service.metrics import Metrics
from service.models.ident import JobRef
from service.models.job import JobSnapshot


def snapshot(job: str, step: int, metrics: dict[str, float]) -> JobSnapshot:
    return JobSnapshot(job_id=job, step=step, metrics=metrics)


def scrape(metrics: Metrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_the_cap_refuses_new_jobs_and_counts_them() -> None:
    metrics = Metrics(max_job_series=2)
    for job in ("a", "b", "c"):
        metrics.observe_job(snapshot(job, 3, {"train_loss": 0.5, "step": 3}))
    text = scrape(metrics)
    assert 'ftwatch_job_step{job_id="a",provider="openai"} 3.0' in text
    assert 'job_id="c"' not in text
    assert "ftwatch_job_series_dropped_total 1.0" in text
    assert 'metric="step"' not in text  # the step has its own gauge


def test_terminal_jobs_series_go_after_the_retention() -> None:
    metrics = Metrics(retention_seconds=60)
    metrics.observe_job(snapshot("a", 1, {"train_loss": float("nan"), "valid_loss": 0.4}))
    metrics.job_terminal(JobRef("openai", "a"), now=1000)
    assert metrics.expire_job_series(now=1059) == []
    assert metrics.expire_job_series(now=1060) == [JobRef("openai", "a")]
    text = scrape(metrics)
    assert 'job_id="a"' not in text
    metrics.observe_job(snapshot("b", 1, {}))  # the freed slot is usable again
    assert 'ftwatch_job_step{job_id="b",provider="openai"}' in scrape(metrics)


def test_total_steps_is_exported_for_the_eta() -> None:
    metrics = Metrics()
    metrics.observe_job(JobSnapshot(job_id="a", step=10, total_steps=40))
    assert 'ftwatch_job_metric{job_id="a",metric="total_steps",provider="openai"} 40.0' in scrape(
        metrics
    )


def test_metric_names_per_job_are_capped_and_the_rest_counted() -> None:
    metrics = Metrics(max_job_metrics=2)
    metrics.observe_job(snapshot("a", 1, {"train_loss": 0.5, "valid_loss": 0.6}))
    metrics.observe_job(snapshot("a", 2, {"train_loss": 0.4, "junk_1": 1.0, "junk_2": 2.0}))
    text = scrape(metrics)
    assert (
        'ftwatch_job_metric{job_id="a",metric="train_loss",provider="openai"} 0.4' in text
    )  # known names update
    assert 'metric="junk_1"' not in text and 'metric="junk_2"' not in text
    assert "ftwatch_job_metrics_dropped_total 2.0" in text
