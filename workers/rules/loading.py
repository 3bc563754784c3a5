"""Load a rules file: YAML → RulesFile, or RulesError listing every problem with its location."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from service.providers import config as providers_config
from workers.rules import actions_spec, config, when
from workers.rules.capability_check import capability_errors, capability_warnings
from workers.rules.conditions import KINDS, when_model
from workers.rules.crosscheck import SKIP_CROSS_CHECK, cross_check
from workers.rules.errors import RulesError, render_validation_error
from workers.rules.yaml_safe import MAX_TEXT, YamlLimitError, yaml_load

_ITEM = re.compile(r"(receivers|rules)\[(\d+)\]")


def _field_names() -> set[str]:
    """Every field name of the rules file's models: the `did you mean` candidates."""
    models = [
        item
        for module in (config, when, actions_spec)
        for item in vars(module).values()
        if isinstance(item, type) and issubclass(item, BaseModel)
    ]
    # Registered kinds' parameters (defined anywhere) and their `when` models.
    models += [k.params for k in KINDS if isinstance(k.params, type)]
    models += [when_model(k.name) for k in KINDS]
    names: set[str] = set()
    for model in models:
        if issubclass(model, BaseModel):
            names |= {f.alias or key for key, f in model.model_fields.items()}
    return names


_FIELDS = _field_names()


def parse_rules(data: Any) -> config.RulesFile:
    """Validate a parsed document; RulesError with every schema and cross-check error."""
    if data is None:
        raise RulesError(["(document): empty; expected a mapping with `rules` (and `receivers`)"])
    if not isinstance(data, Mapping):
        raise RulesError(["(document): must be a mapping with `rules` (and `receivers`)"])
    errors: list[str] = []
    rules: config.RulesFile | None = None
    try:
        rules = config.RulesFile.model_validate(data, context={SKIP_CROSS_CHECK: True})
    except ValidationError as exc:
        errors += render_validation_error(exc, _FIELDS)
    errors += cross_check(data)
    if errors or rules is None:
        raise RulesError(sorted(errors, key=_item_order))
    return rules


def _item_order(error: str) -> tuple[int, int]:
    """Errors grouped by receiver, then by rule, in file order; fields keep pydantic's order."""
    found = _ITEM.match(error)
    if not found:
        return (-1, 0)
    return (0 if found.group(1) == "receivers" else 1, int(found.group(2)))


def parse_rules_text(text: str) -> config.RulesFile:
    """Parse YAML text (syntax errors carry line and column) and validate it.

    The size of what is validated is bounded while parsing (yaml_safe: MAX_NODES, MAX_DEPTH).
    """
    if len(text) > MAX_TEXT:
        raise YamlLimitError([f"(document): larger than {MAX_TEXT // 1024} KiB"])
    return parse_rules(yaml_load(text))


def check_rules_text(text: str) -> list[str]:
    """What `rules check` says, for a worker process: the errors (raised, with an action
    no provider a rule matches can do) or the warnings (returned) travel back."""
    rules = parse_rules_text(text)
    errors = capability_errors(rules)
    if errors:
        raise RulesError(errors)
    return capability_warnings(rules)


def load_rules(path: str | Path) -> config.RulesFile:
    """The rules file at `path`; RulesError (missing file, YAML, schema, cross-checks)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError([f"{path}: no such file"]) from None
    except UnicodeDecodeError:
        raise RulesError([f"{path}: not UTF-8 text"]) from None
    except OSError as exc:
        raise RulesError([f"{path}: {exc.strerror or exc}"]) from None
    return parse_rules_text(text)


def default_rules() -> config.RulesFile:
    """The built-in rules used when FTWATCH_RULES is unset (workers/rules/defaults.yaml)."""
    text = resources.files("workers.rules").joinpath("defaults.yaml").read_text(encoding="utf-8")
    return parse_rules_text(text)


def configured_rules(path: str | Path | None) -> config.RulesFile:
    """`load_rules(path)`, or `default_rules()` when no path is configured."""
    return default_rules() if path is None else load_rules(path)


def check_env(rules: config.RulesFile, environ: Mapping[str, str]) -> list[str]:
    """Errors for providers' and receivers' secret variables that are unset or malformed."""
    errors = providers_config.check_env(rules.providers, environ)
    for index, receiver in enumerate(rules.receivers):
        name = receiver.secret_env
        if name is None:
            continue
        where = f"receivers[{index}].secret_env"
        value = environ.get(name, "")
        if not value:
            errors.append(f"{where}: environment variable {name} is not set")
        elif receiver.format == "standard" and not _valid_whsec(value):
            errors.append(f"{where}: {name} is not a valid whsec_ secret (base64 after whsec_)")
    return errors


def _valid_whsec(secret: str) -> bool:
    # Standard Webhooks keys are `whsec_` + base64; without the prefix the SDKs use the
    # raw UTF-8 bytes, which is legal too, so only a broken base64 part is an error.
    if not secret.startswith("whsec_"):
        return True
    try:
        return bool(base64.b64decode(secret.removeprefix("whsec_"), validate=True))
    except (binascii.Error, ValueError):
        return False
