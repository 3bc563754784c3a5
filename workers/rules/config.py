"""The rules file (SPEC §5) as pydantic models: receivers, rules, match, when, do."""

from __future__ import annotations

import re
from collections import Counter
from fnmatch import fnmatchcase
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from service.models.ident import DEFAULT_PROVIDER
from service.providers.config import (
    ENV_NAME,
    ProviderSpec,
    default_specs,
    duplicate_names,
    is_http_url,
)
from workers.rules.actions_spec import Action, CancelAction, NotifyAction, PauseAction, ResumeAction
from workers.rules.conditions import When
from workers.rules.crosscheck import LOG_RECEIVER, SKIP_CROSS_CHECK, cross_check
from workers.rules.durations import Duration
from workers.rules.when import StrictModel, as_list

__all__ = ["LOG_RECEIVER", "Match", "Receiver", "Rule", "RulesFile"]
Method = Literal["supervised", "dpo", "reinforcement"]
ReceiverFormat = Literal["standard", "slack", "alertmanager", "pagerduty"]
# Formats that cannot work without a secret: Standard Webhooks signs with it,
# PagerDuty Events API v2 needs the integration's routing key in every body.
_SECRET_REQUIRED = frozenset({"standard", "pagerduty"})
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")
# Headers the notifier owns: overriding them would break signing or framing.
_RESERVED_HEADERS = frozenset(
    {"webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "content-length"}
    | {"host", "transfer-encoding"}
)


def _check_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError("must be 1-64 letters, digits, '_', '.' or '-', starting alphanumeric")
    return value


Name = Annotated[str, Field(min_length=1)]


class Receiver(StrictModel):
    """A webhook target; its secret is read from the environment variable `secret_env`."""

    name: Name
    url: str  # http:// or https:// endpoint
    format: ReceiverFormat = "standard"
    secret_env: str | None = Field(default=None, validate_default=True)  # env var of the secret
    timeout: Duration = 10.0  # per delivery attempt
    headers: dict[str, str] = Field(default_factory=dict)  # extra static headers
    max_concurrency: int = Field(default=4, ge=1, le=64)  # deliveries in flight to this receiver

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value == LOG_RECEIVER:
            raise ValueError(f"{LOG_RECEIVER!r} is the built-in log receiver; choose another name")
        return _check_name(value)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not is_http_url(value):
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("secret_env")
    @classmethod
    def _secret_env(cls, value: str | None, info: ValidationInfo) -> str | None:
        fmt = info.data.get("format")
        if value is None and fmt in _SECRET_REQUIRED:
            raise ValueError(f"required for format {fmt} (the name of an environment variable)")
        if value is not None and not ENV_NAME.fullmatch(value):
            raise ValueError("must be an environment variable name such as OPS_WEBHOOK_SECRET")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _HEADER_NAME.fullmatch(name) or name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"{name!r} is not a header name this receiver may set")
            if "\r" in text or "\n" in text:
                raise ValueError(f"the value of {name!r} must not contain line breaks")
        return value


class Match(StrictModel):
    """Which jobs a rule applies to; every key given must match."""

    # Provider names (globs, e.g. azure-*); `ingest` names ingested jobs.
    provider: Annotated[list[str], BeforeValidator(as_list), Field(min_length=1)] | None = None
    method: Annotated[list[Method], BeforeValidator(as_list), Field(min_length=1)] | None = None
    metadata: dict[str, str] = Field(default_factory=dict)  # subset of the job's metadata
    model: Annotated[list[str], BeforeValidator(as_list), Field(min_length=1)] | None = None

    def selects(self, provider: str) -> bool:
        """True when the provider's jobs may match (its name matches a `provider` glob)."""
        return self.provider is None or any(fnmatchcase(provider, g) for g in self.provider)

    def matches(
        self,
        method: str | None,
        model: str | None,
        metadata: dict[str, str] | None,
        provider: str = DEFAULT_PROVIDER,
    ) -> bool:
        """True when the job's provider, method, base model (glob) and metadata all match."""
        if not self.selects(provider):
            return False
        if self.method is not None and method not in self.method:
            return False
        if self.model is not None and (
            model is None or not any(fnmatchcase(model, glob) for glob in self.model)
        ):
            return False
        if not self.metadata:
            return True
        given = metadata or {}
        return all(given.get(key) == value for key, value in self.metadata.items())


class Rule(StrictModel):
    """One rule: which jobs, which condition, what to do, how often."""

    name: Name
    match: Match | None = None
    when: When
    do: list[Action] = Field(min_length=1)
    cooldown: Duration | None = None  # after firing, ignore this rule for the job this long
    dry_run: bool = False  # record and notify what it would do; call nothing upstream

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_name(value)

    @field_validator("do")
    @classmethod
    def _consistent(cls, actions: list[Action]) -> list[Action]:
        kinds = Counter(type(a) for a in actions)
        if kinds[PauseAction] + kinds[CancelAction] > 1:
            raise ValueError("at most one of pause, cancel")
        if kinds[ResumeAction] > 1:
            raise ValueError("at most one resume")
        if kinds[CancelAction] and kinds[ResumeAction]:
            raise ValueError("cannot resume a job it cancels")
        receivers = Counter(a.notify for a in actions if isinstance(a, NotifyAction))
        twice = [name for name, count in receivers.items() if count > 1]
        if twice:
            raise ValueError(f"notifies {twice[0]!r} twice")
        return actions

    @property
    def kind(self) -> str:
        """The detector kind: plateau | error_rate | threshold | stalled | status | …"""
        return self.when.kind

    def applies_to(
        self,
        method: str | None,
        model: str | None,
        metadata: dict[str, str] | None,
        provider: str = DEFAULT_PROVIDER,
    ) -> bool:
        return self.match is None or self.match.matches(method, model, metadata, provider)

    def describe_actions(self) -> list[str]:
        """The actions in words: `pause`, `resume after 10m (at most 2 times)`, `notify:ops`."""
        return [action.describe() for action in self.do]


class RulesFile(StrictModel):
    """The whole rules file. Build it with `parse_rules`/`load_rules` to get every error."""

    providers: list[ProviderSpec] = Field(default_factory=default_specs)
    receivers: list[Receiver] = Field(default_factory=list)
    rules: list[Rule]

    @field_validator("providers")
    @classmethod
    def _providers(cls, value: list[ProviderSpec]) -> list[ProviderSpec]:
        if not value:
            raise ValueError("list at least one provider, or leave the section out")
        dupes = duplicate_names(value)
        if dupes:
            raise ValueError(f"provider names must be unique: {', '.join(dupes)}")
        return value

    @model_validator(mode="after")
    def _cross_check(self, info: ValidationInfo) -> RulesFile:
        if not (info.context or {}).get(SKIP_CROSS_CHECK):
            problems = cross_check(self.model_dump(by_alias=True))
            if problems:
                raise ValueError(problems[0])
        return self

    def receiver(self, name: str) -> Receiver | None:
        """The declared receiver `name` (None for the built-in `log` and unknown names)."""
        return next((r for r in self.receivers if r.name == name), None)

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)
