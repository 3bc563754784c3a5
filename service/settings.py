"""The one settings object, read from the environment (SPEC §3) and passed to every part."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.durations import parse_duration
from service.redis_target import TLS_FILES, parse_target

# FTWATCH_WEBHOOK_RETRY_DELAYS: more delays than this is a typo, not a schedule.
MAX_RETRY_DELAYS = 20
RETRY_DELAYS_EXAMPLE = "5s,30s,2m,10m,30m,1h,3h,6h"
# FTWATCH_REDIS_URL schemes (SPEC §3); anything else is refused before a connection is tried.
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "redis+cluster")
LogLevel = Literal["debug", "info", "warning", "error"]
_CHOICES = frozenset({*get_args(LogLevel), "json", "console"})


class Settings(BaseSettings):
    """Every knob of ftwatch; names are the contract of SPEC §3."""

    model_config = SettingsConfigDict(env_prefix="FTWATCH_", extra="ignore", frozen=True)

    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY")
    )
    openai_base_url: str = Field(
        default="https://api.openai.com/v1", validation_alias=AliasChoices("OPENAI_BASE_URL")
    )
    redis_url: str | None = None
    data_dir: Path = Path(".ftwatch")
    rules: Path | None = None
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=0, le=65535)
    api_token: SecretStr | None = None
    # What a training job holds: push events, read/ack its decisions, nothing else (§10).
    ingest_token: SecretStr | None = None
    poll_interval: float = Field(default=10.0, gt=0)
    jobs: str | None = None
    webhook_secret: SecretStr | None = None
    log_format: Literal["json", "console"] | None = None
    log_level: LogLevel = "info"
    max_job_series: int = Field(default=500, ge=0)
    # Metric names exported per job (SPEC §8): a trainer may push any names, and each is
    # a series; the rest are kept for the rules, not exported.
    max_job_metrics: int = Field(default=64, ge=0)

    # Beyond SPEC §3: tuning knobs with defaults that fit the contract.
    # Queued/validating/paused jobs change rarely; poll them this many times less often.
    idle_poll_factor: float = Field(default=3.0, ge=1)
    # A running job is polled just after its next event is due (service.models.cadence),
    # yet never later than FTWATCH_POLL_INTERVAL x this after its previous poll: the bound
    # within which an unexpected event is read. 1 polls every interval, as before.
    max_poll_factor: float = Field(default=6.0, ge=1)
    # How often one replica lists the account's jobs to discover new ones.
    discovery_interval: float = Field(default=30.0, gt=0)
    # Approximate MAXLEN of ftwatch:events; far above any backlog so trimming never
    # removes pending entries (stack-notes: trimming ignores the PEL).
    stream_maxlen: int = Field(default=200_000, ge=1000)
    # Per-job window of recent event ids kept for idempotent appends.
    seen_window: int = Field(default=512, ge=16)
    upstream_timeout: float = Field(default=15.0, gt=0)
    upstream_max_attempts: int = Field(default=5, ge=1)
    # Concurrent job polls per poller replica.
    poll_concurrency: int = Field(default=16, ge=1)
    # How often timer-driven rules (stalled) look at every watched job.
    rule_tick_interval: float = Field(default=5.0, gt=0)
    # A stream entry idle this long is taken from its (dead) consumer by another.
    claim_idle_seconds: float = Field(default=30.0, gt=0)
    replica_name: str | None = None
    # Upstream requests per second for all replicas together (a token bucket in Redis);
    # unset: no limit of ftwatch's own (upstream 429s are still honoured).
    max_requests_per_second: float | None = Field(default=None, gt=0)
    # Back-pressure: pollers stop claiming jobs while the rules group has more entries of
    # ftwatch:events unread or unacknowledged than this (capped at stream_maxlen / 2, so
    # trimming never reaches entries the rules have not finished).
    max_stream_backlog: int = Field(default=50_000, ge=100)
    # Seconds between webhook delivery attempts, from FTWATCH_WEBHOOK_RETRY_DELAYS
    # ("5s,30s,2m"; NoDecode: a comma list, not JSON); unset: the default schedule
    # (workers/notify/delivery_policy.py RetrySchedule).
    webhook_retry_delays: Annotated[tuple[float, ...] | None, NoDecode] = None
    # Seconds a connection may take to deliver a request's line and headers (counted from
    # its start or the end of the previous response, so idle keep-alive connections close
    # after it too), and then its body; a slower client is disconnected (service/http_limits.py).
    http_header_timeout: float = Field(default=10.0, gt=0)
    http_body_timeout: float = Field(default=30.0, gt=0)
    # Where people reach this ftwatch's API: the base of the job links notifications
    # carry (Alertmanager's generatorURL). Unset: http://<host name>:<port>.
    external_url: str | None = None
    # Seconds between re-posts of the alerts kept for `alertmanager` receivers (SPEC §6).
    alert_resend_seconds: float = Field(default=60.0, gt=0)

    @field_validator("openai_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("redis_url", mode="before")
    @classmethod
    def _check_redis_url(cls, value: Any) -> Any:
        # An empty value means unset (the embedded Redis), as it always has.
        if isinstance(value, str):
            return redis_url(value.strip()) if value.strip() else None
        return value

    @field_validator("ingest_token")
    @classmethod
    def _distinct_tokens(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # The same value would hand every trainer the token that pauses every hosted job.
        admin = info.data.get("api_token")
        if value is not None and admin is not None and value == admin and value.get_secret_value():
            raise ValueError(
                "is the same as FTWATCH_API_TOKEN; give trainers a token of their own "
                "(e.g. `openssl rand -hex 32`)"
            )
        return value

    @field_validator("external_url")
    @classmethod
    def _check_external_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(
                "must be an http:// or https:// URL such as https://ftwatch.example.com"
            )
        return value.strip().rstrip("/")

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: Any) -> Any:
        # INFO and Info are info; anything else reaches the Literal unchanged, so its
        # error shows the value as written.
        if isinstance(value, str) and value.strip().lower() in _CHOICES:
            return value.strip().lower()
        return value

    @field_validator("webhook_retry_delays", mode="before")
    @classmethod
    def _parse_delays(cls, value: Any) -> tuple[float, ...] | None:
        return None if value is None else retry_delays(value)

    @property
    def job_ids(self) -> list[str]:
        """Job ids named by FTWATCH_JOBS, in order, without blanks or repeats."""
        if not self.jobs:
            return []
        return list(dict.fromkeys(j.strip() for j in self.jobs.split(",") if j.strip()))

    @property
    def backlog_bound(self) -> int:
        """The rules backlog above which pollers pause (see max_stream_backlog)."""
        return min(self.max_stream_backlog, self.stream_maxlen // 2)

    @property
    def lease_seconds(self) -> float:
        """How long a poller owns a job; a dead replica's jobs move within two intervals."""
        return max(self.poll_interval * 1.5, 2.0)


def retry_delays(value: Any) -> tuple[float, ...]:
    """Delays from "5s,30s,2m" (or a sequence); ValueError naming the bad item otherwise."""
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    else:
        items = list(value) if isinstance(value, list | tuple) else [value]
    hint = f"a valid value looks like {RETRY_DELAYS_EXAMPLE}"
    if not items or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"is empty (unset it for the default schedule); {hint}")
    if len(items) > MAX_RETRY_DELAYS:
        raise ValueError(f"has {len(items)} delays, at most {MAX_RETRY_DELAYS}; {hint}")
    return tuple(_retry_delay(n, item, hint) for n, item in enumerate(items, 1))


def redis_url(url: str) -> str:
    """`url` when ftwatch can connect with it; ValueError naming the allowed schemes."""
    scheme, sep, rest = url.partition("://")
    allowed = ", ".join(f"{s}://" for s in REDIS_SCHEMES)
    if not sep:
        raise ValueError(f"has no scheme; use one of {allowed}")
    if scheme.lower() not in REDIS_SCHEMES:
        raise ValueError(f"scheme {scheme + '://'!r} is not supported; use one of {allowed}")
    if scheme.lower() in {"redis", "rediss", "unix"}:
        options = _parse_redis_url(url)
    elif not rest.split("/", 1)[0].rpartition("@")[2]:
        raise ValueError(f"{scheme}:// needs at least one host:port")
    else:
        # The same parse connect_redis does, so a bad list fails here.
        options = parse_target(url).tls_options()
    _check_tls_files(options)
    return url


def _parse_redis_url(url: str) -> dict[str, Any]:
    # redis-py's own parser, so what passes here also connects (a bad port or db would
    # otherwise be a traceback at the first command).
    from redis.asyncio.connection import parse_url  # noqa: PLC0415 - only when set

    try:
        return dict(parse_url(url))
    except ValueError as exc:
        raise ValueError(str(exc).rstrip(".")) from None


def _check_tls_files(options: Mapping[str, Any]) -> None:
    """Load the CA and client certificate the URL names, as the first TLS connect would:
    a missing or wrong file is a configuration error now, not an outage later."""
    files = {name: str(options[name]) for name in TLS_FILES if options.get(name)}
    for name, path in files.items():
        if not Path(path).is_file():
            raise ValueError(f"{name}: no file {path}")
    context = ssl.create_default_context()
    try:
        if ca := files.get("ssl_ca_certs"):
            context.load_verify_locations(cafile=ca)
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"ssl_ca_certs: {ca} holds no PEM certificate ({_reason(exc)})") from None
    try:
        if cert := files.get("ssl_certfile"):
            context.load_cert_chain(cert, files.get("ssl_keyfile"))
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(
            f"ssl_certfile: {cert} (with ssl_keyfile) is not a PEM certificate and its key "
            f"({_reason(exc)})"
        ) from None


def _reason(error: OSError) -> str:
    return str(getattr(error, "reason", None) or error.strerror or error)


def _retry_delay(n: int, item: Any, hint: str) -> float:
    item = item.strip() if isinstance(item, str) else item
    if item == "":
        raise ValueError(f"item {n} is empty (a stray comma?); {hint}")
    try:
        return parse_duration(item)
    except ValueError as exc:
        raise ValueError(f"item {n} ({item!r}): {exc}; {hint}") from None


def environment() -> Mapping[str, str]:
    """The process environment, for receivers' secrets named in the rules file (SPEC §3).

    This module is the one place that reads the environment; everything else gets
    Settings, or this mapping, passed in.
    """
    return os.environ
