"""GET /v1/rules (the active rules, secrets redacted) and POST /v1/rules/validate."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from service import keys
from service.api.errors import ApiError
from service.api.routing import Routes
from service.api.schemas import ActionCarriers, ReceiverView, RulesCheck, RulesView, RuleView
from service.cpu import CPU, CpuBusy
from workers.rules.capability_check import carriers
from workers.rules.config import Receiver, Rule, RulesFile
from workers.rules.errors import RulesError
from workers.rules.loading import check_rules_text
from workers.rules.yaml_safe import YamlLimitError

routes = Routes("rules")
REDACTED = "***"


def redact_url(url: str) -> str:
    """Scheme and host only: webhook URLs often carry their token in the path or query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    tail = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{tail}"


def receiver_view(receiver: Receiver) -> ReceiverView:
    return ReceiverView(
        name=receiver.name,
        url=redact_url(receiver.url),
        format=receiver.format,
        secret_env=receiver.secret_env,
        timeout=receiver.timeout,
        headers=dict.fromkeys(receiver.headers, REDACTED),
        max_concurrency=receiver.max_concurrency,
    )


def capabilities(rules: RulesFile, rule: Rule) -> dict[str, ActionCarriers]:
    """Per action of the rule, the providers it matches that can carry it out, and why
    the others cannot."""
    return {
        c.action: ActionCarriers(
            providers=list(c.can), notes=dict(c.notes), unsupported=dict(c.cannot)
        )
        for c in carriers(rules, rule)
    }


def rule_view(rules: RulesFile, rule: Rule) -> RuleView:
    return RuleView(
        name=rule.name,
        kind=rule.kind,
        match=rule.match.model_dump(mode="json", exclude_defaults=True) if rule.match else None,
        when=rule.when.model_dump(mode="json", by_alias=True),
        do=rule.describe_actions(),
        cooldown_seconds=rule.cooldown,
        dry_run=rule.dry_run,
        capabilities=capabilities(rules, rule),
    )


@routes.get("/v1/rules", "The active rules and receivers (secrets redacted)")
async def get_rules(request: web.Request) -> RulesView:
    """Each rule's `capabilities`: for each pause, resume or cancel in its `do`, the
    providers it matches that can carry it out (`notes`: the ingest provider's caveats)
    and why the others cannot (`unsupported`; there the action is recorded as such)."""
    rules = request.app[keys.RULES]
    path = request.app[keys.SETTINGS].rules
    return RulesView(
        source=str(path) if path else "built-in defaults",
        receivers=[receiver_view(r) for r in rules.receivers],
        rules=[rule_view(rules, r) for r in rules.rules],
    )


@routes.post(
    "/v1/rules/validate",
    "Check a rules file (YAML in the body)",
    auth=True,
    responses={
        422: ("The file crosses a size or nesting limit; the message says where.", None),
        503: ("The checker is busy (or restarting); retry.", None),
    },
)
async def validate_rules(request: web.Request, body: str) -> RulesCheck:
    """The same checks as `ftwatch rules check`; every error names its location,
    e.g. `rules[2].when.plateau.patience: must be >= 1`. Nothing is changed. Needs the
    token: parsing is CPU work an anonymous caller must not be able to order."""
    try:
        # In a worker process: bounded, but still up to ~0.3 s of CPU (issue 16, F1).
        warnings = await request.app[CPU].run(check_rules_text, body)
    except YamlLimitError as exc:
        raise ApiError(422, "rules_too_large", exc.errors[0]) from None
    except RulesError as exc:
        return RulesCheck(valid=False, errors=exc.errors)
    except CpuBusy as exc:
        raise ApiError(503, "busy", str(exc), headers={"Retry-After": "1"}) from None
    return RulesCheck(valid=True, errors=[], warnings=warnings)
