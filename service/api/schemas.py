"""The API's pydantic models: handlers take and return these, /openapi.json documents them."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from service.models.audit import ActionRecord
from service.models.decision import AckOutcome, Decision, DecisionAck
from service.models.event import NormalizedEvent
from service.models.firing import ActionResult, Firing, Severity
from service.models.job import JobSnapshot
from service.models.lifecycle import RecordedStatus, StatusName
from service.models.times import iso_time
from service.store.stream_scan import canonical_id, is_stream_id

# A time in a response: kept as epoch seconds (what the store and the models hold) and
# written as RFC 3339 UTC with milliseconds, as the webhooks write it. A time a client
# needs as a number is a field of its own named `*_epoch`.
_AS_ISO = (
    PlainSerializer(iso_time, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
)
ApiTime = Annotated[float, *_AS_ISO]
ApiSecond = Annotated[int, *_AS_ISO]  # a time the models keep in whole seconds


def _never_is_none(value: Any) -> Any:
    # A snapshot says "never written" with 0: the API says null, not 1970-01-01.
    return None if value == 0 else value


ApiTimeOrNever = Annotated[ApiTime | None, BeforeValidator(_never_is_none)]

# Ids that appear in URL paths: what OpenAI job ids look like ("ftjob-…"), and safe to
# put in a path segment, so every job ftwatch knows can be addressed.
JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,255}$"
JobId = Annotated[str, Field(pattern=JOB_ID_PATTERN, min_length=1, max_length=256)]


def _stream_id(value: str) -> str:
    if not is_stream_id(value):
        raise ValueError("not a stream entry id (<ms>-<seq>, each below 2**64)")
    return canonical_id(value)


StreamId = Annotated[
    str, Field(pattern=r"^\d{1,20}-\d{1,20}$", max_length=41), AfterValidator(_stream_id)
]
Limit = Annotated[int, Field(ge=1, le=500)]
V = TypeVar("V", bound=BaseModel)


class Strict(BaseModel):
    """Inputs: unknown fields are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid")


# --- errors and health -------------------------------------------------------------


class ErrorDetail(BaseModel):
    loc: str  # where: `events[3].created_at`, `limit`
    message: str


class ErrorInfo(BaseModel):
    code: str  # stable, machine-readable: not_found, unauthorized, invalid_request, …
    message: str
    details: list[ErrorDetail] | None = None


class ErrorBody(BaseModel):
    """Every error response: `{"error": {"code": …, "message": …}}`."""

    error: ErrorInfo


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    reasons: list[str] = Field(default_factory=list)
    # Added in issue 16; clients reading only status and reasons are unaffected.
    loops: dict[str, Literal["running", "restarting", "stopped"]] = Field(
        default_factory=dict,
        description="Each background loop of this process; `restarting` while in backoff.",
    )


# --- jobs --------------------------------------------------------------------------


ProviderFilter = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class JobsQuery(Strict):
    status: list[StatusName] = Field(
        default_factory=list,
        description="Any of these statuses (OpenAI's `validating_files` and `pending` are mapped).",
    )
    provider: ProviderFilter | None = Field(default=None, description="Only this provider's jobs.")
    source: ProviderFilter | None = Field(default=None, description="Old name of `provider`.")
    metadata: list[Annotated[str, Field(pattern=r"^[^=]+=")]] = Field(
        default_factory=list, description="`key=value`; every one given must match."
    )
    cursor: str | None = Field(default=None, max_length=256, description="`next_cursor`.")
    limit: Limit = 50


# --- the core models as the API writes them: the same fields, times as ISO-8601 ----------


class ActionResultView(ActionResult):
    at: ApiTime | None = Field(default=None, description="When the outcome was known.")


class FiringView(Firing):
    """A firing as the API writes it."""

    # A list of the subclass: mypy sees a list's items as writable, pydantic reads it only.
    actions: list[ActionResultView] = Field(default_factory=list)  # type: ignore[assignment]
    event_created_at: ApiSecond | None = Field(
        default=None, description="When the event that made the rule fire happened."
    )
    fired_at: ApiTime


class DecisionAckView(DecisionAck):
    at: ApiTime


class DecisionView(Decision):
    """A decision as the API writes it."""

    created_at: ApiTime
    ack: DecisionAckView | None = None


class EventView(NormalizedEvent):
    """An event as the API writes it (`ftwatch rules backtest --events` reads it back)."""

    created_at: ApiSecond


def view_of(model: type[V], core: BaseModel) -> V:
    """`core` (a model of service.models) as its API view `model`."""
    return model.model_validate(core.model_dump())


class JobView(JobSnapshot):
    """A job as ftwatch last saw it, whether it is polled now, and its rules' states."""

    last_event_at: ApiSecond | None = Field(
        default=None, description="When the job's newest event happened."
    )
    # The snapshot's 0 ("never written") becomes null here, so the view's type is wider.
    updated_at: ApiTimeOrNever = Field(  # type: ignore[assignment]
        default=None, description="When ftwatch last wrote this snapshot; null: never."
    )
    watched: bool = False
    rules: dict[str, Any] = Field(
        default_factory=dict,
        description="Each rule's state for this job; its times (`cooldown_until`, "
        "`last_fired_at`, a `stalled` detector's `since`) are ISO-8601 like every other.",
    )
    decisions: list[DecisionView] = Field(
        default_factory=list,
        description="An ingested job's decisions its trainer has not acked yet, oldest first.",
    )
    next_poll_at: ApiTime | None = Field(
        default=None, description="When the job is polled next; null: not polled."
    )
    next_event_at: ApiTime | None = Field(
        default=None,
        description="When the poll cadence expects the job's next event (it is polled just"
        " after); null: no prediction (not running, or still learning its pace).",
    )


class JobList(BaseModel):
    """Every list answers `{"data": [...], "next_cursor"}`: pass the cursor for more."""

    data: list[JobView]
    next_cursor: str | None = None


class PageQuery(Strict):
    cursor: StreamId | None = Field(default=None, description="`next_cursor` of a page.")
    limit: Limit = 50


class EventEntry(BaseModel):
    id: str  # the entry id on the event stream
    event: EventView


class EventPage(BaseModel):
    """Newest first. `next_cursor` set: pass it as `cursor` for older events."""

    data: list[EventEntry]
    next_cursor: str | None = None


class ManualRequest(Strict):
    """Who asks for a manual action and why, for the audit log (both optional)."""

    actor: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\s:][^\n]*$")] | None = (
        Field(default=None, description="Who asks: recorded as `api:<actor>`.")
    )
    reason: Annotated[str, Field(min_length=1, max_length=1024)] | None = Field(
        default=None, description="Why, in words: the audit log's reason."
    )


class ManualResult(BaseModel):
    provider: str
    job_id: str
    action: Literal["pause", "resume", "cancel"]
    firing_id: str
    by: str  # the audit log's rule: `api`, or `api:<actor>`
    result: ActionResultView


# --- decisions of ingested jobs (SPEC §10) ------------------------------------------

# Long enough to cut polling to a request a minute, short enough for proxies' idle limits.
MAX_DECISION_WAIT = 60.0


class DecisionQuery(Strict):
    wait: float = Field(
        default=0.0,
        ge=0,
        le=MAX_DECISION_WAIT,
        description="Seconds to wait for a decision when none is pending (at most 60).",
    )


class AckBody(Strict):
    """What the trainer did with the decision."""

    outcome: AckOutcome = Field(
        description="`done`: it did what the decision asked (a pause saved a checkpoint "
        "and stopped, a cancel stopped); `failed`: it could not (say why in `message`)."
    )
    checkpoint: str | None = Field(
        default=None, max_length=4096, description="Where the checkpoint it saved is."
    )
    message: str | None = Field(default=None, max_length=2000)


class AckResult(BaseModel):
    """The decision with its (first) ack, and the job's status after it."""

    provider: str
    job_id: str
    status: RecordedStatus
    decision: DecisionView
    duplicate: bool = Field(
        description="True when the decision had been acked before: nothing changed, and "
        "`decision.ack` is that first ack."
    )


# --- rules, audit, deliveries --------------------------------------------------------


class ReceiverView(BaseModel):
    """A receiver without its secrets: URL path and header values are redacted."""

    name: str
    url: str
    format: str
    secret_env: str | None = None
    timeout: float
    headers: dict[str, str] = Field(default_factory=dict)
    max_concurrency: int


class ActionCarriers(BaseModel):
    """Which of the providers a rule matches can carry out one of its actions (SPEC §4)."""

    providers: list[str]  # can carry it out
    notes: dict[str, str] = Field(default_factory=dict)  # provider → caveat (ingest: decisions)
    unsupported: dict[str, str] = Field(default_factory=dict)  # provider → why it cannot


class RuleView(BaseModel):
    name: str
    kind: str
    match: dict[str, Any] | None = None
    when: dict[str, Any]
    do: list[str]  # `pause`, `resume after 10m (at most 2 times)`, `notify:ops`
    cooldown_seconds: float | None = None
    dry_run: bool = False
    # pause | resume | cancel → the providers the rule matches that can (notify is for all).
    capabilities: dict[str, ActionCarriers] = Field(default_factory=dict)
    severity: Severity = "warning"


class RulesView(BaseModel):
    source: str  # the rules file's path, or "built-in defaults"
    receivers: list[ReceiverView]
    rules: list[RuleView]


class RulesCheck(BaseModel):
    valid: bool
    errors: list[str]
    # e.g. an action only some of the providers a rule matches can carry out.
    warnings: list[str] = Field(default_factory=list)


class AuditQuery(PageQuery):
    job_id: str | None = Field(default=None, max_length=256)
    rule: str | None = Field(default=None, max_length=256)
    firing_id: str | None = Field(
        default=None, max_length=512, description="One firing and the actions it caused."
    )


class ActionView(ActionRecord):
    """An action's outcome; its firing (reason, values, best step) is the firing entry of
    the same `firing_id`, recorded before it."""

    at: ApiTime


class AuditEntry(BaseModel):
    """A firing (`record: firing`) or one of its actions (`record: action`)."""

    id: str  # the entry id on the audit stream
    record: Literal["firing", "action"]
    firing: FiringView | None = Field(
        default=None,
        description="The firing, on a `firing` entry; on an `action` entry only when a "
        "version before issue 18 wrote it (it copied the whole firing into each action).",
    )
    action: ActionView | None = Field(default=None, description="The action, on an `action` entry.")


class AuditPage(BaseModel):
    data: list[AuditEntry]
    next_cursor: str | None = None


class AttemptView(BaseModel):
    """One try of a delivery: when, how long, and the HTTP status or the error."""

    model_config = ConfigDict(extra="allow")  # what a later version records beyond these
    at: ApiTime | None = None
    duration: float | None = None  # seconds
    status: int | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds the receiver asked to wait
    detail: str | None = None


class DeadDeliveryView(BaseModel):
    id: str  # the entry id on the dead-letter stream: what replay takes
    delivery_id: str
    receiver: str
    firing: FiringView
    attempts: list[AttemptView] = Field(default_factory=list)


class DeadPage(BaseModel):
    data: list[DeadDeliveryView]
    next_cursor: str | None = None


class ReplayResult(BaseModel):
    id: str
    receiver: str
    queued_as: str  # the entry id on `ftwatch:deliveries`


# --- inbound webhooks ---------------------------------------------------------------


class WebhookData(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str


class OpenAIWebhook(BaseModel):
    """OpenAI's thin webhook payload; only `data.id` (the job) matters here."""

    model_config = ConfigDict(extra="allow")
    id: str
    type: str
    created_at: int
    data: WebhookData
    object: str | None = None


class WebhookResult(BaseModel):
    received: bool
    type: str
    job_id: str | None = None
    polled: bool = False  # the job was made due for an immediate poll
    # The webhook-id was seen within the signature window: a replay, answered and ignored.
    duplicate: bool = False
