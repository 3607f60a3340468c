"""The CLI's resident server: `warmer get`, `symbols` and `search` answered by a background
`warmer serve` that the CLI starts on first use and that exits when idle, as Bazel's and Gradle's
clients do.

A one-shot lookup pays Python's start (~20 ms) plus SQLAlchemy, the settings and the generators
(~0.6 s); `search` also loads the embedding model. The resident keeps all of that loaded, so a
later command imports only the standard library and asks it over 127.0.0.1, with a bearer token
kept in a file only the user can read. The first command answers from the ledger itself while
the resident starts beside it.

One resident per (environment, configuration, installed code): its state file is named by a hash
of the settings' environment variables, the data directory, the configuration file's path and
content, and the warmer sources' modification times, so a changed setting or upgraded code is
never answered by an old process (that one idles out). WARMER_RESIDENT=0 turns it off;
WARMER_RESIDENT_IDLE_SECS (default 900) is how long it waits for a question before it exits.

Standard library only: this runs before every lookup command.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from warmer.cli import fail
from warmer.cli.remote import Unreachable, answer, request
from warmer.data_dir import default_data_dir

ENABLED_ENV = "WARMER_RESIDENT"
IDLE_ENV = "WARMER_RESIDENT_IDLE_SECS"
DEFAULT_IDLE_SECS = 900.0
IDLE_RANGE = (1.0, 86_400.0)
STARTING_SECS = 60  # a start begun this recently is not begun again
_SETTINGS_PREFIXES = ("WARMER_", "KEEPTRUSTS_CACHE_WARMER_", "CELERY_")  # what load_settings reads
_SETTINGS_NAMES = ("DATABASE_URL",)
_NOT_SETTINGS = (ENABLED_ENV, "WARMER_SERVER_URL", "WARMER_API_TOKEN")
_SOURCES = Path(__file__).resolve().parents[1]


def enabled(env: Mapping[str, str]) -> bool:
    value = env.get(ENABLED_ENV, "").strip().lower()
    if value in ("", "1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    fail(f"{ENABLED_ENV}={value!r}: allowed: 1/true/yes/on or 0/false/no/off")
    raise AssertionError("unreachable")


def idle_secs(env: Mapping[str, str]) -> float:
    raw = env.get(IDLE_ENV, "").strip()
    if not raw:
        return DEFAULT_IDLE_SECS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    low, high = IDLE_RANGE
    if not (math.isfinite(seconds) and low <= seconds <= high):
        fail(f"{IDLE_ENV}={raw!r}: allowed: a number of seconds from {low:g} to {high:g}")
    return seconds


def _code_stamp() -> list[tuple[str, int]]:
    stamps = []
    for folder, _dirs, files in os.walk(_SOURCES):
        for name in files:
            if name.endswith((".py", ".yaml", ".sql")):
                path = os.path.join(folder, name)
                stamps.append((path, os.stat(path).st_mtime_ns))
    return sorted(stamps)


def fingerprint(env: Mapping[str, str]) -> str:
    """Names everything that could make a resident's answer differ from this process's own."""
    settings = sorted(
        (name, value) for name, value in env.items()
        if (name.startswith(_SETTINGS_PREFIXES) or name in _SETTINGS_NAMES) and name not in _NOT_SETTINGS
    )  # fmt: skip
    named = env.get("WARMER_CONFIG", "").strip()
    config = Path(named or "config/engineering_cache.yaml").expanduser().resolve()
    try:
        config_text = config.read_bytes().hex()
    except OSError:
        config_text = "" if not named else "unreadable"  # the command itself reports a named, missing file
    parts = [settings, str(default_data_dir(env).resolve()), str(config) if config_text else "", config_text,
             _code_stamp(), sys.prefix, os.path.realpath(sys.executable)]  # fmt: skip
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def _folder(env: Mapping[str, str]) -> Path:
    folder = default_data_dir(env) / "resident"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def state_file(env: Mapping[str, str]) -> Path:
    return _folder(env) / f"{fingerprint(env)}.json"


def ask(repo: str, endpoint: str, params: dict[str, Any]) -> tuple[bool, dict[str, Any]] | None:
    """The resident's answer, or None when there is none yet (one is then started): the caller
    answers from the ledger itself."""
    env = os.environ
    if not enabled(env):
        return None
    idle_secs(env)  # a bad value is said here, where the user sees it, not only in the resident's log
    state = state_file(env)
    try:
        known = json.loads(state.read_text())
        url, token = known["url"], known["token"]
    except (OSError, ValueError, KeyError, TypeError):
        start(env, state)
        return None
    try:
        status, body = request(url, repo, endpoint, params, token)
    except Unreachable:
        status, body = 0, {}
    if status in (0, 401):  # killed without clearing its file, and perhaps its port reused since
        with contextlib.suppress(OSError):
            state.unlink()
        start(env, state)
        return None
    return answer("", status, body)


def start(env: Mapping[str, str], state: Path) -> None:
    """Start a resident in the background, unless one is already starting."""
    starting = state.with_suffix(".starting")
    try:
        if time.time() - starting.stat().st_mtime < STARTING_SECS:
            return
        starting.unlink()
    except OSError:
        pass
    try:
        os.close(os.open(starting, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return
    with open(state.with_suffix(".log"), "ab") as log:
        subprocess.Popen(
            [sys.executable, "-c", "from warmer.cli import main; main()", "serve", "--resident"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True,
        )  # fmt: skip


@contextlib.contextmanager
def hold(env: Mapping[str, str]) -> Iterator[Path | None]:
    """For the resident itself: its state file while it holds the lock, or None when another
    resident of the same fingerprint runs (this one then exits). The file is removed at exit;
    the start marker only by `announce`, so a resident that fails to start is retried at most
    once a STARTING_SECS (its log beside the state file says why)."""
    state = state_file(env)
    with open(state.with_suffix(".lock"), "ab") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        try:
            yield state
        finally:
            with contextlib.suppress(OSError):
                state.unlink()


def announce(state: Path, url: str, token: str) -> None:
    """Publish the resident's address and token (readable by this user only), atomically."""
    partial = state.with_suffix(".partial")
    descriptor = os.open(partial, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump({"url": url, "token": token, "pid": os.getpid()}, out)
    partial.replace(state)
    with contextlib.suppress(OSError):
        state.with_suffix(".starting").unlink()
