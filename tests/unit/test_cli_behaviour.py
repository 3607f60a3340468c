"""The `warmer` command behaves like the tools its users know: whole lines in a pipe, rg's exit
statuses, git's own words when git refuses, no noise at exit, and a ledger two processes can create."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.gitrepo import git, make_repo

WARMER = str(Path(sys.executable).parent / "warmer")
LONG_PATH = "src/" + "/".join(["deeply_nested_package_directory"] * 4) + "/module_with_a_long_name.py"
SERVE_PORT = int(os.environ.get("WARMER_TEST_PORT_BASE", "18181")) + 650


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The console script as a pipe sees it: no terminal, no COLUMNS."""
    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "WARMER_SERVER_URL")}
    return subprocess.run(
        [WARMER, *args], capture_output=True, text=True, env={**environment, **(env or {})}, timeout=timeout
    )


@pytest.fixture(autouse=True)
def _fast_artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "engineering_cache.yaml"
    config.write_text(
        "engineering_cache:\n  warmers:\n    on_connect:\n      artifacts: [repo_map, symbol_index, test_map]\n"
    )
    monkeypatch.setenv("WARMER_CONFIG", str(config))


@pytest.fixture
def long_repo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "longpaths",
        {LONG_PATH: "def a_function_defined_far_away(argument_one, argument_two):\n    return 1\n"},
    )


def test_piped_output_keeps_whole_lines(long_repo: Path) -> None:
    assert run("warm", str(long_repo)).returncode == 0
    found = run("symbols", "longpaths", "a_function_defined_far_away")
    assert found.returncode == 0, found.stderr
    line = next(line for line in found.stdout.splitlines() if "a_function_defined_far_away" in line)
    assert f"{LONG_PATH}:1" in line and len(line) > 120  # nothing cut at 80 columns
    assert "def a_function_defined_far_away(argument_one, argument_two)" in line
    assert "…" not in found.stdout and "│" not in found.stdout  # no ellipsis, no box drawing
    jobs = run("jobs").stdout.splitlines()
    assert jobs[0].split()[:5] == ["id", "repo", "artifact", "trigger", "status"]
    assert all(line.split()[4] == "completed" for line in jobs[1:]) and len(jobs) == 4


def test_exit_statuses_are_rgs(long_repo: Path) -> None:
    assert run("warm", str(long_repo)).returncode == 0
    assert run("symbols", "longpaths", "a_function_defined_far_away", "--match", "exact").returncode == 0
    none = run("symbols", "longpaths", "no_such_name_anywhere", "--match", "exact", "--json")
    assert none.returncode == 1 and json.loads(none.stdout) == []
    miss = run("get", "longpaths", "api_inventory", "--task-type", "t")  # never warmed: a recorded miss
    assert miss.returncode == 1 and miss.stderr.startswith("miss: no api_inventory entry")
    assert run("symbols", "longpaths", "x", "--limit", "0").returncode == 2  # bad input
    assert run("symbols", "nope", "x").returncode == 2  # unknown repository
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("warmer ")


def test_warm_only_skip_and_json(long_repo: Path) -> None:
    done = run("warm", str(long_repo), "--only", "repo_map", "--only", "symbol_index", "--skip", "symbol_index",
               "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    (job,) = json.loads(done.stdout)
    assert job["artifact_type"] == "repo_map" and job["status"] == "completed"
    assert job["calls"] == {"extracted": 1, "reused": 0} and job["result"].startswith(
        "generated: 1 files read"
    )
    again = json.loads(run("warm", str(long_repo), "--only", "repo_map", "--json").stdout)
    assert again[0]["result"].startswith("generated from reused extracts: 0 files read, 1 reused")
    assert "[1/1] repo_map: generated in" in done.stderr  # progress names the artifact
    refused = run("warm", str(long_repo), "--skip", "no_such_artifact")
    assert refused.returncode == 2 and "unknown artifact type 'no_such_artifact'" in refused.stderr


def test_two_first_runs_at_once_share_one_new_ledger(tmp_path: Path) -> None:
    repos = [
        make_repo(tmp_path / f"repo{i}", {"main.py": f"def f{i}():\n    return {i}\n"}) for i in range(2)
    ]
    env = {**os.environ, "WARMER_DATA_DIR": str(tmp_path / "fresh")}
    env.pop("COLUMNS", None)
    processes = [
        subprocess.Popen([WARMER, "warm", str(repo)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for repo in repos
    ]  # fmt: skip
    results = [(p.wait(timeout=300), *p.communicate()) for p in processes]
    for code, stdout, stderr in results:
        assert code == 0, stderr + stdout
        assert "already exists" not in stderr
    listed = json.loads(run("jobs", "--json", env={"WARMER_DATA_DIR": str(tmp_path / "fresh")}).stdout)
    assert {job["repo"] for job in listed} == {"repo0", "repo1"}


def test_an_empty_repository_says_no_commits_yet(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "--quiet", "-b", "main")
    done = run("warm", str(empty))
    assert done.returncode == 2
    assert done.stderr.strip() == "warmer: error: no commits yet: nothing to warm until 'main' has a commit"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the repository another owner")
def test_gits_whole_refusal_is_kept(small_repo: Path) -> None:
    subprocess.run(["chown", "-R", "nobody", str(small_repo)], check=True)
    done = run("warm", str(small_repo))
    assert done.returncode == 2
    assert "detected dubious ownership in repository" in done.stderr  # git's reason ...
    assert "git config --global --add safe.directory" in done.stderr  # ... and its advice
    assert "Traceback" not in done.stderr


def test_no_tracebacks_at_exit_after_warming_a_packed_repository(small_repo: Path) -> None:
    git(small_repo, "gc", "--quiet")
    assert list((small_repo / ".git/objects/pack").glob("*.pack"))
    done = run("warm", str(small_repo))
    assert done.returncode == 0, done.stderr
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr


def test_symbols_and_get_ask_a_running_server(long_repo: Path, tmp_path: Path) -> None:
    assert run("warm", str(long_repo)).returncode == 0
    token = {"WARMER_API_TOKEN": "t0ken"}
    server = subprocess.Popen(
        [WARMER, "serve", "--port", str(SERVE_PORT)], env={**os.environ, **token},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", SERVE_PORT), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "warmer serve did not start"
                time.sleep(0.2)
        url = {"WARMER_SERVER_URL": f"http://127.0.0.1:{SERVE_PORT}", **token}
        local = run("symbols", "longpaths", "a_function", "--json")
        remote = run("symbols", "longpaths", "a_function", "--json", env=url)
        assert remote.returncode == 0 and json.loads(remote.stdout) == json.loads(local.stdout)
        entry = json.loads(run("get", "longpaths", "repo_map", "--task-type", "t", env=url).stdout)
        assert entry["hit"] and entry["payload"]["summary"]["files"] == 1
        assert run("get", "longpaths", "api_inventory", "--task-type", "t", env=url).returncode == 1  # a miss
        wrong = run("symbols", "longpaths", "a", env={**url, "WARMER_API_TOKEN": "wrong"})
        assert wrong.returncode == 2 and "missing or wrong bearer token" in wrong.stderr
        bad = run("symbols", "longpaths", "a", "--limit", "0", env=url)
        assert bad.returncode == 2 and "limit must be between" in bad.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
