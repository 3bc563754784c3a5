"""The HTTP API: health, readiness, metrics and (later) jobs, rules, actions."""
