"""Every setting, given a hostile value: one line naming the variable, its value and what it
accepts; never a traceback, from the loader, the CLI or the worker, and nothing else changed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.services import ROOT
from warmer.settings import SettingsError, load_settings

WARMER = str(Path(sys.executable).parent / "warmer")
P = "KEEPTRUSTS_CACHE_WARMER_"
SECONDS = [
    "POLL_INTERVAL_SECS",
    "HEARTBEAT_SECS",
    "STALE_THRESHOLD_SECS",
    "JOB_TIMEOUT_SECS",
    "RETRY_BACKOFF_SECS",
]
WHOLE = ["CONCURRENCY", "HEALTH_PORT", "MAX_RETRIES"]


@pytest.fixture
def base(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "empty.yaml"
    config.write_text("")
    return {"WARMER_CONFIG": str(config), "WARMER_DATA_DIR": str(tmp_path / "data")}


def _error(env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as error:
        load_settings(env)
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("name", SECONDS)
@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e400", "1e308", "-1", "abc", "", "0x10"])
def test_every_seconds_variable_refuses_what_would_break_later(
    base: dict[str, str], name: str, value: str
) -> None:
    env = {**base, P + name: value}
    if value == "":
        load_settings(env)  # empty means the default
        return
    message = _error(env)
    assert message.startswith(f"{P}{name}: ") and f"(got {value!r})" in message
    assert "allowed: a finite number" in message


@pytest.mark.parametrize("name", WHOLE)
@pytest.mark.parametrize("value", ["inf", "nan", "99999999999999999999999", "-5", "1.5", "4 cores"])
def test_every_whole_number_variable_refuses_what_would_break_later(
    base: dict[str, str], name: str, value: str
) -> None:
    message = _error({**base, P + name: value})
    assert message.startswith(f"{P}{name}: ") and f"(got {value!r})" in message
    assert "allowed: a whole number" in message


def test_the_bounds_are_said(base: dict[str, str]) -> None:
    message = _error({**base, P + "JOB_TIMEOUT_SECS": "inf"})
    assert message == (
        "KEEPTRUSTS_CACHE_WARMER_JOB_TIMEOUT_SECS: input should be a finite number (got 'inf');"
        " allowed: a finite number > 0 and <= 604800"
    )
    assert "allowed: a whole number >= 0 and <= 65535" in _error({**base, P + "HEALTH_PORT": "70000"})


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("garbage", "DATABASE_URL='garbage': not a database URL"),
        ("mysql://u@h/db", "unsupported scheme 'mysql'"),
        ("postgresql+asyncpg://u@h/db", "unsupported scheme 'postgresql+asyncpg'"),
        ("postgresql://u:secret@h:abc/db", "DATABASE_URL='postgresql://u:***@h:abc/db': not a database URL"),
        ("sqlite://", "names no database file"),
    ],
)
def test_database_url(base: dict[str, str], value: str, says: str) -> None:
    message = _error({**base, "DATABASE_URL": value})
    assert says in message and "expected postgresql://USER" in message
    assert "secret" not in message


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("nope://x", "unknown scheme 'nope'"),
        ("localhost:6379", "unknown scheme"),
        ("redis://:secret@h:99999/0", "Port out of range"),
        ("redis://h:six/0", "Port could not be cast"),
        ("redis://", "names no host"),
        ("redis://h/zero", "the Redis database 'zero' is not a number"),
        ("redis://h/0;nope://b", "unknown scheme 'nope'"),
    ],
)
def test_broker_url(base: dict[str, str], value: str, says: str) -> None:
    message = _error({**base, "CELERY_BROKER_URL": value})
    assert message.startswith("CELERY_BROKER_URL=") and says in message and "secret" not in message
    assert "expected redis://" in message


def test_good_urls_pass(base: dict[str, str]) -> None:
    settings = load_settings(
        {**base, "DATABASE_URL": "postgresql://u:p@db/warmer", "CELERY_BROKER_URL": "rediss://:p@r:6380/2"}
    )
    assert settings.broker_url == "rediss://:p@r:6380/2"


def test_config_file_named_but_missing_unreadable_or_not_utf8(base: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    assert _error({**base, "WARMER_CONFIG": str(missing)}).startswith(
        f"WARMER_CONFIG='{missing}': no such file"
    )
    assert "cannot be read: Is a directory" in _error({**base, "WARMER_CONFIG": str(tmp_path)})
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("engineering_cache:\n  warmers: {}\n# café\n".encode("latin-1"))
    assert "not UTF-8 text (byte 0xe9 at offset" in _error({**base, "WARMER_CONFIG": str(latin1)})
    infinite = tmp_path / "inf.yaml"
    infinite.write_text("engineering_cache:\n  warmers:\n    on_commit:\n      debounce_seconds: .inf\n")
    assert "on_commit.debounce_seconds: input should be a finite number" in _error(
        {**base, "WARMER_CONFIG": str(infinite)}
    )


def test_unset_config_means_the_default_file_or_defaults(base: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in base.items() if k != "WARMER_CONFIG"}
    os.chdir(tmp_path)  # no config/engineering_cache.yaml here: every default
    try:
        assert load_settings(env).warmers.on_miss.threshold == 5
    finally:
        os.chdir(ROOT)


def test_data_dir_and_llm_timeout(base: dict[str, str], tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert "WARMER_DATA_DIR=" in _error({**base, "WARMER_DATA_DIR": str(a_file)})
    for value in ("inf", "abc", "0", "1e9"):
        message = _error({**base, "WARMER_LLM_TIMEOUT_SECS": value})
        assert message.startswith(f"WARMER_LLM_TIMEOUT_SECS={value!r}: allowed:")


@pytest.mark.parametrize(
    ("command", "env", "says"),
    [
        (["status"], {P + "JOB_TIMEOUT_SECS": "inf"}, "KEEPTRUSTS_CACHE_WARMER_JOB_TIMEOUT_SECS: input should be a finite number"),
        (["jobs", "--json"], {"DATABASE_URL": "garbage"}, "DATABASE_URL='garbage': not a database URL"),
        (["db", "upgrade"], {"CELERY_BROKER_URL": "nope://x"}, "CELERY_BROKER_URL='nope://x': unknown scheme 'nope'"),
        (["webhooks"], {"WARMER_CONFIG": "/nowhere/c.yaml"}, "WARMER_CONFIG='/nowhere/c.yaml': no such file"),
        (["status"], {P + "MAX_RETRIES": "1e400"}, "KEEPTRUSTS_CACHE_WARMER_MAX_RETRIES: input should be a valid integer"),
    ],
)  # fmt: skip
def test_the_cli_says_one_line(
    base: dict[str, str], command: list[str], env: dict[str, str], says: str
) -> None:
    done = subprocess.run(
        [WARMER, *command],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **base, **env},
        cwd=ROOT,
    )
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("warmer: error: ") and says in line, line
    assert "Traceback" not in done.stdout
