"""The environment variables each command reads, for `--help` (SPEC §3).

One line a variable; tests/test_cli_help.py checks that every field of the settings
object is listed here, so a new setting cannot be missing from `--help`.
"""

from __future__ import annotations

VARIABLES: dict[str, str] = {
    "OPENAI_API_KEY": "key of the default `openai` provider (not needed for the simulator)",
    "OPENAI_BASE_URL": "its base URL (default https://api.openai.com/v1)",
    "FTWATCH_REDIS_URL": "redis://, rediss://, unix://, redis+sentinel://h:p,h:p/<service> "
    "or redis+cluster://h:p,h:p; TLS: rediss://…?ssl_ca_certs=/ca.pem, …?tls=true&ssl_ca_certs= "
    "(unset: a private redis-server under FTWATCH_DATA_DIR)",
    "FTWATCH_DATA_DIR": "where the private Redis keeps its files (default ./.ftwatch)",
    "FTWATCH_RULES": "the config file: providers, receivers, rules (unset: built-in rules)",
    "FTWATCH_HOST": "HTTP listen address (default 0.0.0.0)",
    "FTWATCH_PORT": "HTTP listen port (default 8080)",
    "FTWATCH_API_TOKEN": "bearer token of the mutating endpoints (unset: they answer 403)",
    "FTWATCH_INGEST_TOKEN": "bearer token a trainer holds: ingest and its own decisions only",
    "FTWATCH_POLL_INTERVAL": "seconds between polls of a running job (default 10)",
    "FTWATCH_JOBS": "comma-separated job ids to watch (unset: every job the key lists)",
    "FTWATCH_WEBHOOK_SECRET": "whsec_… secret of inbound OpenAI webhooks (unset: off)",
    "FTWATCH_LOG_FORMAT": "json or console (default: json unless stderr is a terminal)",
    "FTWATCH_LOG_LEVEL": "debug, info, warning or error (default info)",
    "FTWATCH_MAX_JOB_SERIES": "jobs with per-job metric series (default 500)",
    "FTWATCH_MAX_JOB_METRICS": "metric names exported per job (default 64)",
    "FTWATCH_IDLE_POLL_FACTOR": "queued and paused jobs are polled this many times less often",
    "FTWATCH_MAX_POLL_FACTOR": "a running job waits at most this many intervals (default 6)",
    "FTWATCH_DISCOVERY_INTERVAL": "seconds between listings of each provider's jobs (default 30)",
    "FTWATCH_STREAM_MAXLEN": "approximate length of the event stream (default 200000)",
    "FTWATCH_SEEN_WINDOW": "recent event ids kept per job for idempotent appends (default 512)",
    "FTWATCH_UPSTREAM_TIMEOUT": "seconds per upstream request (default 15)",
    "FTWATCH_UPSTREAM_MAX_ATTEMPTS": "attempts per upstream request, with backoff (default 5)",
    "FTWATCH_POLL_CONCURRENCY": "job polls in flight per poller (default 16)",
    "FTWATCH_RULE_TICK_INTERVAL": "seconds between checks of timer rules like stalled (default 5)",
    "FTWATCH_CLAIM_IDLE_SECONDS": "a stream entry idle this long moves to a live consumer",
    "FTWATCH_REPLICA_NAME": "this process's consumer and lease name (default hostname-pid)",
    "FTWATCH_MAX_REQUESTS_PER_SECOND": "upstream requests per second, all replicas together",
    "FTWATCH_MAX_STREAM_BACKLOG": "pollers pause while the rules lag this far (default 50000)",
    "FTWATCH_WEBHOOK_RETRY_DELAYS": "delays between delivery attempts (default 5s,30s,2m,…,6h)",
    "FTWATCH_HTTP_HEADER_TIMEOUT": "seconds a request's line and headers may take (default 10)",
    "FTWATCH_HTTP_BODY_TIMEOUT": "seconds a request's body may take (default 30)",
    "FTWATCH_EXTERNAL_URL": "the service's URL as people reach it, for links in notifications",
    "FTWATCH_ALERT_RESEND_SECONDS": "seconds between re-posts of active Alertmanager alerts (60)",
}

# What each command reads besides; `run` reads them all.
_DEMO = ("FTWATCH_LOG_LEVEL", "FTWATCH_LOG_FORMAT")
_EXPORT = ("FTWATCH_REDIS_URL", "FTWATCH_DATA_DIR")
_SIMULATE = ("FTWATCH_LOG_LEVEL", "FTWATCH_LOG_FORMAT")
_STATUS = ("FTWATCH_PORT", "FTWATCH_API_TOKEN")


def epilog(command: str) -> str:
    """The `--help` footer of a command: the variables it reads, one a line."""
    names = {
        "run": tuple(VARIABLES),
        "demo": _DEMO,
        "simulate": _SIMULATE,
        "export": _EXPORT,
        "status": _STATUS,
    }.get(command, ())
    if not names:
        return ""
    width = max(len(name) for name in names)
    lines = [f"  {name.ljust(width)}  {VARIABLES[name]}" for name in names]
    return "environment variables:\n" + "\n".join(lines)
