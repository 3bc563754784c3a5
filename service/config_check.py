"""Configuration problems that stop a start (SPEC §3): one line each, named by its place.

A place is the environment variable (`FTWATCH_PORT: must be <= 65535`) or the config
file and the spot in it (`rules.yaml: rules[2].when.plateau.patience: must be >= 1`).
Every problem is collected before anything starts, printed, and the exit code is 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pydantic import SecretStr, ValidationError
from pydantic_core import ErrorDetails

from service.settings import Settings, environment

if TYPE_CHECKING:
    from workers.rules.config import RulesFile

EXIT_CODE = 2
PREFIX = "FTWATCH_"
# FTWATCH_* names that are not Settings: the trainer-side client's (SPEC §10).
OTHER_VARIABLES = frozenset({"FTWATCH_URL", "FTWATCH_INGEST_TOKEN", "FTWATCH_JOB_ID"})
# Values never echoed in a message: a Redis URL may carry its password.
_UNECHOED = frozenset({"redis_url"})
_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}


class ConfigError(Exception):
    """The configuration cannot work; `problems` holds each one as `place: message`."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems) or ["invalid configuration"]
        super().__init__("\n".join(self.problems))


def variable_name(field: str) -> str:
    """The environment variable that sets `field` (its alias, else FTWATCH_ + the name)."""
    info = Settings.model_fields[field]
    alias = info.validation_alias
    choices = getattr(alias, "choices", None)
    if choices:
        return str(choices[0])
    return str(alias) if isinstance(alias, str) else PREFIX + field.upper()


def _field_of(loc: Sequence[int | str]) -> str | None:
    """The Settings field an error's location names (pydantic gives the alias for some)."""
    head = str(loc[0]) if loc else ""
    if head in Settings.model_fields:
        return head
    return next((f for f in Settings.model_fields if variable_name(f) == head.upper()), None)


def settings_problems(exc: ValidationError) -> list[str]:
    """Each error of reading Settings as `VARIABLE: message (got 'value')`."""
    return [_settings_line(error) for error in exc.errors()]


def _settings_line(error: ErrorDetails) -> str:
    field = _field_of(error["loc"])
    place = variable_name(field) if field else ".".join(map(str, error["loc"]))
    return f"{place}: {_message(error)}{_echo(field, error.get('input'))}"


def _echo(field: str | None, value: Any) -> str:
    if field is None or field in _UNECHOED or not isinstance(value, str):
        return ""
    annotation = Settings.model_fields[field].annotation
    secret = SecretStr in getattr(annotation, "__args__", ()) or annotation is SecretStr
    return "" if secret else f" (got {value!r})"


def _message(error: ErrorDetails) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _BOUNDS:
        op, key = _BOUNDS[kind]
        return f"must be {op} {ctx.get(key)}"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    plain = {"float_parsing": "must be a number", "int_parsing": "must be an integer"}
    return plain.get(kind, error["msg"])


def unknown_variables(environ: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """FTWATCH_* variables nothing reads (a typo?), each with the closest known name."""
    known = {variable_name(f) for f in Settings.model_fields} | OTHER_VARIABLES
    known = {name for name in known if name.startswith(PREFIX)}
    unknown = sorted(n for n in environ if n.upper().startswith(PREFIX) and n.upper() not in known)
    return [(name, _closest(name.upper(), known)) for name in unknown]


def _closest(name: str, known: Iterable[str]) -> str | None:
    # Compared without the prefix every name shares, or any name resembles any other.
    tails = sorted(k.removeprefix(PREFIX) for k in known)
    close = difflib.get_close_matches(name.removeprefix(PREFIX), tails, n=1, cutoff=0.6)
    return PREFIX + close[0] if close else None


def unknown_variable_line(name: str, closest: str | None) -> str:
    """The one-line warning for an unknown FTWATCH_* variable."""
    hint = f"; did you mean {closest}?" if closest else ""
    return f"{name} is not a setting ftwatch knows, ignored{hint}"


def startup_config(command: str) -> tuple[Settings, RulesFile | None]:
    """Settings and, for `run`, the config file's rules; ConfigError listing every problem."""
    problems: list[str] = []
    settings: Settings | None = None
    try:
        settings = read_settings()
    except ConfigError as exc:
        problems += exc.problems
    rules: RulesFile | None = None
    if command == "run":
        try:
            rules = _rules(settings)
        except ConfigError as exc:
            problems += exc.problems
    if problems or settings is None:
        raise ConfigError(problems)
    return settings, rules


def read_settings() -> Settings:
    """Read the environment once; ConfigError naming each bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(settings_problems(exc)) from None


def _rules(settings: Settings | None) -> RulesFile:
    # Checked even when a variable is bad, so one start shows every problem at once.
    from service.app import load_rules  # noqa: PLC0415 - aiohttp and the rules: `run` only

    if settings is not None:
        return load_rules(settings.rules)
    raw = environment().get("FTWATCH_RULES")
    return load_rules(Path(raw) if raw else None)


def refuse(problems: Sequence[str], out: IO[str], environ: Mapping[str, str]) -> int:
    """Print every problem (and unknown variables, a likely cause) one a line; exit code 2."""
    for name, closest in unknown_variables(environ):
        print(f"ftwatch: warning: {unknown_variable_line(name, closest)}", file=out)
    for problem in problems:
        print(f"ftwatch: configuration error: {problem}", file=out)
    return EXIT_CODE
