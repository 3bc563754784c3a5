"""Settings read from the environment, and the one-line errors `ftwatch` starts with."""

from __future__ import annotations

import pytest

from service.cli import load_settings
from service.config_check import ConfigError, unknown_variables, variable_name

DELAYS = "FTWATCH_WEBHOOK_RETRY_DELAYS"
EXAMPLE = "5s,30s,2m,10m,30m,1h,3h,6h"


@pytest.mark.parametrize(
    ("value", "delays"),
    [
        (EXAMPLE, (5, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600)),
        ("0.5s, 2", (0.5, 2)),  # decimals, plain seconds, spaces around items
        ("0.2s,0.2s", (0.2, 0.2)),
        ("1h30m,1d", (5400, 86400)),  # the rules file's durations
        (",".join(["1s"] * 20), (1,) * 20),
    ],
)
def test_webhook_retry_delays_are_durations(
    monkeypatch: pytest.MonkeyPatch, value: str, delays: tuple[float, ...]
) -> None:
    monkeypatch.setenv(DELAYS, value)
    assert load_settings().webhook_retry_delays == pytest.approx(delays)


def test_without_webhook_retry_delays_the_default_schedule_applies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(DELAYS, raising=False)
    assert load_settings().webhook_retry_delays is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "is empty (unset it for the default schedule)"),
        ("5s,,30s", "item 2 is empty"),
        ("5s,30s,", "item 3 is empty"),
        ("5s,5x", "item 2 ('5x'): '5x' is not a duration"),
        ("5s,30s,2w", "item 3 ('2w'): '2w' is not a duration"),
        ("0s", "item 1 ('0s'): must be a positive duration"),
        ("5s,0", "item 2 ('0'): must be a positive duration"),
        ("-3", "item 1 ('-3'): must be a positive duration"),
        ("-5s", "item 1 ('-5s'): '-5s' is not a duration"),
        ("400d", "item 1 ('400d'): must be at most 366d"),
        (",".join(["1s"] * 21), "has 21 delays, at most 20"),
    ],
)
def test_bad_webhook_retry_delays_stop_the_start_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv(DELAYS, value)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    [message] = refused.value.problems
    assert message.startswith(f"{DELAYS}: ")
    assert problem in message
    assert f"a valid value looks like {EXAMPLE}" in message


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "rediss://:secret@redis.example.com:6380",
        "unix:///var/run/redis.sock?db=2",
        "redis+sentinel://:secret@s1:26379,s2:26379/mymaster/0",
        "redis+cluster://n1:7000,n2:7000",
    ],
)
def test_every_redis_url_scheme_of_the_spec_is_accepted(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("FTWATCH_REDIS_URL", url)
    assert load_settings().redis_url == url


def test_an_empty_redis_url_means_the_embedded_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTWATCH_REDIS_URL", " ")
    assert load_settings().redis_url is None


@pytest.mark.parametrize(("value", "level"), [("DEBUG", "debug"), (" Warning ", "warning")])
def test_log_level_is_read_in_any_case(
    monkeypatch: pytest.MonkeyPatch, value: str, level: str
) -> None:
    monkeypatch.setenv("FTWATCH_LOG_LEVEL", value)
    assert load_settings().log_level == level


def test_variables_are_named_as_the_environment_spells_them() -> None:
    assert variable_name("poll_interval") == "FTWATCH_POLL_INTERVAL"
    assert variable_name("openai_base_url") == "OPENAI_BASE_URL"


def test_unknown_ftwatch_variables_get_the_closest_known_name() -> None:
    environ = {
        "FTWATCH_POLL_INTERVALL": "5",
        "ftwatch_redis_ur": "redis://x",  # read in any case, like pydantic-settings does
        "FTWATCH_ZZZ": "1",
        "FTWATCH_PORT": "8080",
        "FTWATCH_INGEST_TOKEN": "t",  # the trainer-side client's (SPEC §10)
        "OPENAI_API_KEY": "sk",
    }
    assert unknown_variables(environ) == [
        ("FTWATCH_POLL_INTERVALL", "FTWATCH_POLL_INTERVAL"),
        ("FTWATCH_ZZZ", None),
        ("ftwatch_redis_ur", "FTWATCH_REDIS_URL"),
    ]


def test_the_ingest_token_is_read_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTWATCH_INGEST_TOKEN", "trainer-token")
    monkeypatch.delenv("FTWATCH_API_TOKEN", raising=False)
    token = load_settings().ingest_token
    assert token is not None and token.get_secret_value() == "trainer-token"
    assert variable_name("ingest_token") == "FTWATCH_INGEST_TOKEN"
    assert unknown_variables({"FTWATCH_INGEST_TOKEN": "x"}) == []
