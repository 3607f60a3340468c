"""The `warmer` command as a user runs it: the real console script, the embedded SQLite ledger."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.gitrepo import commit, write
from warmer.ledger.db import Database
from warmer.ledger.models import CacheLookup
from warmer.ledger.queries import JOB_FIELDS

WARMER = str(Path(sys.executable).parent / "warmer")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WARMER, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=120,
    )


@pytest.fixture(autouse=True)
def _two_connect_artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """repo_map, which exists, and a type no generator will ever serve: outcomes that do not
    change as more generators are built."""
    config = tmp_path / "engineering_cache.yaml"
    config.write_text(
        "engineering_cache:\n  warmers:\n    on_connect:\n      artifacts: [repo_map, no_such_artifact]\n"
    )
    monkeypatch.setenv("WARMER_CONFIG", str(config))


@pytest.fixture
def warmed(small_repo: Path) -> Path:
    done = run("warm", str(small_repo))
    assert done.returncode == 0, done.stderr + done.stdout
    return small_repo


def ledger() -> Database:
    return Database(f"sqlite:///{Path(os.environ['WARMER_DATA_DIR']) / 'warmer.db'}")


def test_warm_runs_the_connect_jobs_and_summarizes(small_repo: Path) -> None:
    done = run("warm", str(small_repo))
    assert done.returncode == 0, done.stderr
    assert "warming summary" in done.stdout
    assert "repo_map" in done.stdout and "completed" in done.stdout
    assert "not available in this version" in done.stdout  # a type with no generator
    assert "2/2" in done.stderr  # the progress bar reached the end


def test_get_prints_the_entry_and_a_miss_exits_1_and_is_recorded(warmed: Path) -> None:
    hit = run("get", "small", "repo_map", "--task-type", "code_review")
    assert hit.returncode == 0, hit.stderr
    entry = json.loads(hit.stdout)
    assert entry["hit"] and entry["payload"]["summary"]["files"] == 4
    assert (
        entry["commit"]
        == subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=warmed, capture_output=True, text=True
        ).stdout.strip()
    )
    miss = run("get", "small", "repo_map", "--path", "app/main.py", "--task-type", "code_review")
    assert miss.returncode == 1 and "miss" in miss.stderr and miss.stdout == ""
    with ledger().session() as session:
        lookups = session.execute(
            select(CacheLookup.artifact_type, CacheLookup.hit, CacheLookup.task_type)
        ).all()
    assert sorted(lookups) == [("repo_map", False, "code_review"), ("repo_map", True, "code_review")]


def test_jobs_json_follows_the_contract(warmed: Path) -> None:
    done = run("jobs", "--json")
    jobs = json.loads(done.stdout)
    assert len(jobs) == 2
    for job in jobs:
        assert set(JOB_FIELDS) <= set(job)
        assert job["trigger"] == "connect" and job["repo"] == "small" and job["branch"] == "main"
    repo_map = next(j for j in jobs if j["artifact_type"] == "repo_map")
    assert repo_map["status"] == "completed" and repo_map["attempts"] == 1
    (failed,) = json.loads(run("jobs", "--json", "--status", "failed").stdout)
    assert failed["artifact_type"] == "no_such_artifact"
    assert failed["error"].startswith("no generator registered for artifact type 'no_such_artifact'")


def test_job_detail_shows_phases_history_and_error(warmed: Path) -> None:
    jobs = json.loads(run("jobs", "--json").stdout)
    failed = next(j for j in jobs if j["status"] == "failed")
    detail = json.loads(run("job", str(failed["id"]), "--json").stdout)
    assert [e["to"] for e in detail["events"]] == ["queued", "claimed", "running", "failed"]
    assert set(detail["phases_seconds"]) == {"queued", "claimed", "running"}
    text = run("job", str(failed["id"])).stdout
    assert "history" in text and "no generator registered" in text


def test_requeue_a_failed_job_and_refuse_others(warmed: Path) -> None:
    jobs = json.loads(run("jobs", "--json").stdout)
    failed = next(j for j in jobs if j["status"] == "failed")
    completed = next(j for j in jobs if j["status"] == "completed")
    refused = run("requeue", str(completed["id"]))
    assert refused.returncode == 2 and "only failed jobs can be re-queued" in refused.stderr
    done = run("requeue", str(failed["id"]))
    assert done.returncode == 0 and "re-queued" in done.stdout
    assert json.loads(run("job", str(failed["id"]), "--json").stdout)["status"] == "queued"


def test_warm_again_refreshes_at_the_new_head(warmed: Path) -> None:
    write(warmed, {"app/extra.py": "x = 1\n"})
    head = commit(warmed, "add extra")
    done = run("warm", str(warmed))
    assert done.returncode == 0, done.stderr
    entry = json.loads(run("get", "small", "repo_map", "--task-type", "t").stdout)
    assert entry["commit"] == head and entry["payload"]["summary"]["files"] == 5
    triggers = {j["trigger"] for j in json.loads(run("jobs", "--json").stdout)}
    assert triggers == {"connect", "manual"}


def test_symbols_searches_the_cached_index_and_a_missing_index_is_a_recorded_miss(
    warmed: Path, tmp_path: Path
) -> None:
    miss = run("symbols", "small", "main")
    assert miss.returncode == 1 and "no symbol_index entry for small yet" in miss.stderr
    config = tmp_path / "with-symbols.yaml"
    config.write_text("engineering_cache:\n  warmers:\n    on_connect:\n      artifacts: [symbol_index]\n")
    env = {"WARMER_CONFIG": str(config)}
    assert run("warm", str(warmed), env=env).returncode == 0
    (found,) = json.loads(run("symbols", "small", "main", "--match", "exact", "--json", env=env).stdout)
    assert (found["file"], found["kind"], found["start_line"]) == ("app/main.py", "function", 1)
    fuzzy = json.loads(run("symbols", "small", "tst_mn", "--json", env=env).stdout)
    assert fuzzy[0]["name"] == "test_main"
    nothing = run("symbols", "small", "zzz", "--match", "exact", env=env)
    assert nothing.returncode == 1 and "no symbol of small matches" in nothing.stderr  # as rg: 1, no match
    assert run("symbols", "small", "", env=env).returncode == 2


def test_status_counts(warmed: Path) -> None:
    status = json.loads(run("status", "--json").stdout)
    assert status["completed_24h"] == 1 and status["failed_24h"] == 1
    assert status["total_queued"] == 0 and status["in_progress"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("warm", "/nonexistent/repo"), "no such directory"),
        (("get", "nope", "repo_map", "--task-type", "t"), "unknown repository 'nope'"),
        (("get", "small", "repo_map", "--task-type", "t", "--path", "../../etc/passwd"), "invalid path"),
        (("get", "small", "no_such_type", "--task-type", "t"), "unknown artifact type 'no_such_type'"),
        (("job", "424242"), "job 424242 does not exist"),
        (("requeue", "424242"), "job 424242 does not exist"),
        (("jobs", "--repo", "nope"), "unknown repository 'nope'"),
    ],
)
def test_bad_input_gets_one_clear_line(warmed: Path, args: tuple[str, ...], message: str) -> None:
    done = run(*args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_bad_branch_and_bad_config_are_refused(small_repo: Path, tmp_path: Path) -> None:
    done = run("connect", str(small_repo), "--branch", "bad..name")
    assert done.returncode == 2 and "invalid branch name 'bad..name'" in done.stderr
    done = run("connect", str(small_repo), "--branch", "nope")
    assert done.returncode == 2 and "branch 'nope' not found (branches: main)" in done.stderr
    done = run("status", env={"KEEPTRUSTS_CACHE_WARMER_MAX_RETRIES": "-1"})
    assert done.returncode == 2 and "KEEPTRUSTS_CACHE_WARMER_MAX_RETRIES" in done.stderr
    config = tmp_path / "bad.yaml"
    config.write_text("engineering_cache:\n  warmers:\n    on_push: {}\n")
    done = run("status", env={"WARMER_CONFIG": str(config)})
    assert done.returncode == 2 and "engineering_cache.warmers.on_push: unknown key" in done.stderr
    # Nothing was recorded by the refused commands.
    assert json.loads(run("jobs", "--json").stdout) == []


def test_unreachable_database_is_a_clear_error() -> None:
    done = run("status", env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"})
    assert done.returncode == 2 and "cannot reach the ledger database" in done.stderr
