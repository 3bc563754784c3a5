"""The job snapshot kept in Redis for the API and the rules: latest status, step, metrics."""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from service.models.ident import DEFAULT_PROVIDER, JobRef, job_key
from service.models.lifecycle import RecordedStatus, is_known, is_terminal


class JobSnapshot(BaseModel):
    """What ftwatch last knew about a job; one Redis hash per job."""

    model_config = ConfigDict(ser_json_inf_nan="constants")

    job_id: str
    status: RecordedStatus = "unknown"  # ftwatch's lifecycle status
    raw_status: str | None = None  # the provider's own word for it, as last read
    model: str | None = None
    method: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    # Snapshots written before providers existed say `source` (`openai` or `ingest`).
    provider: str = Field(
        default=DEFAULT_PROVIDER, validation_alias=AliasChoices("provider", "source")
    )
    step: int | None = None
    total_steps: int | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    # Metric names refused since the snapshot held MAX_SNAPSHOT_METRICS (models.metrics).
    metrics_dropped: int = 0
    last_event_at: int | None = None
    fine_tuned_model: str | None = None
    # Vendor facts ftwatch has no field for (e.g. Together's early stopping), as reported.
    provider_details: dict[str, str | bool | int | float | None] = Field(default_factory=dict)
    updated_at: float = 0.0

    @property
    def key(self) -> str:
        """`<provider>:<job_id>`: the job's name in Redis."""
        return job_key(self.provider, self.job_id)

    @property
    def ref(self) -> JobRef:
        return JobRef(self.provider, self.job_id)

    @property
    def is_terminal(self) -> bool:
        return is_terminal(self.status)

    @property
    def ever_read(self) -> bool:
        """ftwatch has read a status for this job (the provider's, or one it was told)."""
        return self.raw_status is not None or is_known(self.status)
