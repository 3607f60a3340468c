"""The CLI's resident server (warmer/cli/resident.py): after the first lookup command, `get`,
`symbols` and `search` are answered by a background `warmer serve` started for this ledger,
configuration and code, with the same answers and exit statuses as from the ledger itself."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gitrepo import make_repo

WARMER = str(Path(sys.executable).parent / "warmer")
SOURCE = "def parse_the_header(line):\n    return line.split(':', 1)\n\n\nclass HeaderReader:\n    pass\n"


def run(
    *args: str, env: dict[str, str] | None = None, python: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "WARMER_SERVER_URL")}
    argv = (
        [sys.executable, *python, "-c", "from warmer.cli import main; main()", *args]
        if python
        else [WARMER, *args]
    )
    return subprocess.run(
        argv, capture_output=True, text=True, env={**environment, **(env or {})}, timeout=300
    )


def residents(data: Path) -> list[Path]:
    return sorted((data / "resident").glob("*.json"))


def wait_for(condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    config = tmp_path / "engineering_cache.yaml"
    config.write_text(
        "engineering_cache:\n  warmers:\n    on_connect:\n      artifacts: [repo_map, symbol_index]\n"
    )
    monkeypatch.setenv("WARMER_CONFIG", str(config))
    monkeypatch.setenv("WARMER_RESIDENT", "1")
    monkeypatch.setenv("WARMER_RESIDENT_IDLE_SECS", "60")  # strays exit by themselves
    folder = Path(os.environ["WARMER_DATA_DIR"])
    repo = make_repo(tmp_path / "headers", {"src/headers/parse.py": SOURCE})
    done = run("warm", str(repo), env={"WARMER_RESIDENT": "0"})
    assert done.returncode == 0, done.stderr
    yield folder
    for state in residents(folder):
        with contextlib.suppress(OSError, ValueError):
            os.kill(json.loads(state.read_text())["pid"], signal.SIGTERM)


def test_later_commands_are_answered_by_the_resident_with_the_ledgers_answers(data: Path) -> None:
    local = {"WARMER_RESIDENT": "0"}
    first = run("symbols", "headers", "parse_the_header", "--json")
    assert first.returncode == 0, first.stderr
    wait_for(lambda: residents(data), "no resident announced itself")
    state = residents(data)[0]
    assert stat.S_IMODE(state.stat().st_mode) == 0o600 and stat.S_IMODE(state.parent.stat().st_mode) == 0o700
    # Answered without loading the ledger's code: the resident did the work.
    traced = run("symbols", "headers", "parse_the_header", "--json", python=("-X", "importtime"))
    assert traced.returncode == 0 and "sqlalchemy" not in traced.stderr, traced.stderr[-2000:]
    assert (
        json.loads(traced.stdout)
        == json.loads(first.stdout)
        == json.loads(run("symbols", "headers", "parse_the_header", "--json", env=local).stdout)
    )
    assert json.loads(traced.stdout)[0]["file"] == "src/headers/parse.py"
    for args in (("get", "headers", "repo_map", "--task-type", "t"),
                 ("get", "headers", "symbol_index", "--path", "src/headers/parse.py", "--task-type", "t")):  # fmt: skip
        resident, own = run(*args), run(*args, env=local)
        assert resident.returncode == own.returncode == 0
        assert json.loads(resident.stdout) == json.loads(own.stdout)
    # A miss, no match and bad input: the same exit statuses and messages as from the ledger.
    for args, code in (
        (("get", "headers", "api_inventory", "--task-type", "t"), 1),
        (("symbols", "headers", "zzqqxxnothing", "--match", "exact"), 1),
        (("symbols", "headers", "x", "--limit", "0"), 2),
        (("symbols", "nosuchrepo", "x"), 2),
        (("get", "headers", "repo_map", "--path", "../etc/passwd", "--task-type", "t"), 2),
    ):
        resident, own = run(*args), run(*args, env=local)
        assert (resident.returncode, resident.stderr) == (own.returncode, own.stderr) == (code, own.stderr), (
            args
        )
    assert len(residents(data)) == 1  # the same one answered all of them


def test_a_changed_configuration_is_never_answered_by_an_old_resident(data: Path, tmp_path: Path) -> None:
    run("symbols", "headers", "parse")
    wait_for(lambda: len(residents(data)) == 1, "no resident")
    other = tmp_path / "other.yaml"
    other.write_text("engineering_cache:\n  warmers:\n    on_connect:\n      artifacts: [repo_map]\n")
    traced = run(
        "symbols", "headers", "parse", env={"WARMER_CONFIG": str(other)}, python=("-X", "importtime")
    )
    assert traced.returncode == 0 and "sqlalchemy" in traced.stderr  # answered from the ledger itself
    wait_for(lambda: len(residents(data)) == 2, "the other configuration got no resident of its own")


def test_a_killed_resident_is_replaced_and_an_idle_one_exits(data: Path) -> None:
    run("symbols", "headers", "parse", env={"WARMER_RESIDENT_IDLE_SECS": "2"})
    wait_for(lambda: residents(data), "no resident")
    killed = json.loads(residents(data)[0].read_text())["pid"]
    os.kill(killed, signal.SIGKILL)
    wait_for(lambda: not pid_alive(killed), "kill -9 did not take")
    after = run("symbols", "headers", "parse_the_header", "--json", env={"WARMER_RESIDENT_IDLE_SECS": "2"})
    assert after.returncode == 0 and json.loads(after.stdout)[0]["name"] == "parse_the_header"

    def replaced() -> bool:
        found = residents(data)
        return bool(found) and json.loads(found[0].read_text())["pid"] != killed

    wait_for(replaced, "no new resident after the old one was killed")
    second = json.loads(residents(data)[0].read_text())["pid"]
    wait_for(
        lambda: not residents(data) and not pid_alive(second), "an idle resident did not exit", timeout=30
    )


def test_residents_started_together_leave_one(data: Path) -> None:
    env = {**os.environ, "WARMER_RESIDENT": "1"}
    argv = [sys.executable, "-c", "from warmer.cli import main; main()", "serve", "--resident"]
    started = [
        subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(3)
    ]
    wait_for(lambda: residents(data), "no resident announced itself")
    time.sleep(2)
    running = [p for p in started if p.poll() is None]
    assert len(running) == 1 and len(residents(data)) == 1
    assert json.loads(residents(data)[0].read_text())["pid"] == running[0].pid
    for p in started:
        if p.poll() is not None:
            assert p.returncode == 0 and p.stderr is not None and not p.stderr.read()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [("WARMER_RESIDENT", "maybe", "WARMER_RESIDENT='maybe'"),
     ("WARMER_RESIDENT_IDLE_SECS", "inf", "WARMER_RESIDENT_IDLE_SECS='inf'")],
)  # fmt: skip
def test_bad_resident_settings_are_one_clear_line(data: Path, name: str, value: str, message: str) -> None:
    done = run("symbols", "headers", "parse", env={name: value})
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert not residents(data)
