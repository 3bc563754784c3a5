"""`--help` names the environment variables each command reads, all of them for `run`."""

from __future__ import annotations

import pytest

from service.cli import main
from service.cli_help import VARIABLES
from service.settings import Settings


def env_names() -> set[str]:
    """FTWATCH_<FIELD>, or the field's own alias (OPENAI_API_KEY)."""
    names = set()
    for name, field in Settings.model_fields.items():
        aliases = getattr(field.validation_alias, "choices", None)
        names |= set(aliases) if aliases else {f"FTWATCH_{name.upper()}"}
    return names


def test_every_setting_is_listed_and_nothing_else() -> None:
    assert set(VARIABLES) == env_names()


def help_text(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as stopped:
        main([*args, "--help"])
    assert stopped.value.code == 0
    return capsys.readouterr().out


def test_run_help_lists_every_variable_and_the_roles(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys, "run")
    assert all(f"  {name} " in text for name in VARIABLES), text
    assert "poller" in text.split("environment variables:")[0]


def test_export_help_lists_where_it_reads_from(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys, "events", "export")
    assert "FTWATCH_REDIS_URL" in text and "FTWATCH_DATA_DIR" in text
    assert "FTWATCH_POLL_INTERVAL" not in text
