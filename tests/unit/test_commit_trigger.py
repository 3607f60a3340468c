"""The commit trigger on real git repositories: debounce windows, branch filters, planning, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.gitrepo import commit, git, write
from warmer.git.mirror import GitError
from warmer.ledger.db import Database
from warmer.ledger.models import BranchState, CommitTrigger, CommitTriggerStatus, Job, Trigger
from warmer.ledger.repositories import UnknownRepository
from warmer.settings import Settings, load_settings
from warmer.triggers import commit as commit_trigger
from warmer.triggers.connect import connect, disconnect

WARMER = str(Path(sys.executable).parent / "warmer")


def _settings(tmp_path: Path, db: Database, yaml: str = "") -> Settings:
    config = tmp_path / "engineering_cache.yaml"
    config.write_text(
        "engineering_cache:\n  warmers:\n" + (yaml or "    on_commit:\n      debounce_seconds: 30\n")
    )
    return load_settings(
        {"WARMER_CONFIG": str(config), "WARMER_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": db.url}
    )


def _pending(db: Database) -> list[CommitTrigger]:
    with db.session() as session:
        rows = (
            session.execute(select(CommitTrigger).where(CommitTrigger.status == CommitTriggerStatus.PENDING))
            .scalars()
            .all()
        )
        session.expunge_all()
        return list(rows)


def _commit_jobs(db: Database) -> dict[str, Job]:
    with db.session() as session:
        rows = session.execute(select(Job).where(Job.trigger == Trigger.COMMIT)).scalars().all()
        session.expunge_all()
        return {job.artifact_type: job for job in rows}


@pytest.fixture
def connected(ledger: Database, small_repo: Path, tmp_path: Path) -> tuple[Database, Settings, Path]:
    settings = _settings(tmp_path, ledger)
    connect(ledger, settings, str(small_repo), name="small")
    return ledger, settings, small_repo


def test_a_push_waits_for_its_window_then_refreshes_what_it_changed(
    connected: tuple[Database, Settings, Path],
) -> None:
    db, settings, repo = connected
    write(repo, {"app/main.py": "import os\n\n\ndef main():\n    return 2\n"})
    head = commit(repo, "edit main")  # an import added: the dependency graph and who-imports-what change
    recorded = commit_trigger.record(db, settings, "small", sha=None, branch=None, source="test")
    assert recorded.status == CommitTriggerStatus.PENDING and recorded.commit == head
    assert commit_trigger.plan_due(db, settings, actor="test") == []  # the 30 s window is still open
    commit_trigger.close_window(db, recorded.trigger_id)
    (planned,) = commit_trigger.plan_due(db, settings, actor="test")
    assert planned.commit == head
    jobs = _commit_jobs(db)
    # The product page's rules, plus (keep_all_fresh) every connect artifact that reads app/main.py.
    assert set(jobs) == {"file_summary", "dependency_graph", "recent_change_summary", "repo_map",
                         "symbol_index", "api_inventory", "embedding_index"}  # fmt: skip
    assert jobs["file_summary"].scope is None and jobs["file_summary"].priority == 0
    assert jobs["symbol_index"].scope == ["app/main.py"] and jobs["repo_map"].scope is None
    assert "imports: app/main.py" in planned.reasons["dependency_graph"]
    with db.session() as session:
        state = session.get(BranchState, (jobs["file_summary"].repo_id, "main"))
        assert state is not None and state.commit == head
    assert commit_trigger.plan_due(db, settings, actor="test") == []  # planned once


def test_without_keep_all_fresh_only_the_product_pages_artifacts_are_refreshed(
    ledger: Database, small_repo: Path, tmp_path: Path
) -> None:
    settings = _settings(
        tmp_path, ledger, "    on_commit:\n      debounce_seconds: 0\n      keep_all_fresh: false\n"
    )
    connect(ledger, settings, str(small_repo), name="small")
    write(small_repo, {"app/main.py": "import os\n\n\ndef main():\n    return 2\n"})
    commit(small_repo, "edit main")
    commit_trigger.record(ledger, settings, "small", sha=None, branch=None, source="test")
    commit_trigger.plan_due(ledger, settings, actor="test")
    assert set(_commit_jobs(ledger)) == {"file_summary", "dependency_graph", "recent_change_summary"}


def test_a_burst_of_pushes_collapses_into_one_refresh_of_the_final_tree(
    connected: tuple[Database, Settings, Path],
) -> None:
    db, settings, repo = connected
    shas = []
    for i in range(5):  # a rebase pushing five commits in a row
        write(repo, {f"app/mod{i}.py": f"X = {i}\n"})
        shas.append(commit(repo, f"step {i}"))
        commit_trigger.record(db, settings, "small", sha=shas[-1], branch="main", source="test")
    (pending,) = _pending(db)
    assert (pending.commit, pending.commits_seen) == (shas[-1], 5)
    commit_trigger.close_window(db, pending.id)
    (planned,) = commit_trigger.plan_due(db, settings, actor="test")
    assert planned.commit == shas[-1]
    assert _commit_jobs(db)["symbol_index"].scope == [f"app/mod{i}.py" for i in range(5)]


def test_other_branches_a_disabled_trigger_and_disconnected_repositories_are_ignored_visibly(
    connected: tuple[Database, Settings, Path], tmp_path: Path
) -> None:
    db, settings, repo = connected
    git(repo, "checkout", "-q", "-b", "feature")
    head = commit(repo, "on a feature branch")
    ignored = commit_trigger.record(db, settings, "small", sha=head, branch="feature", source="test")
    assert (
        ignored.status == CommitTriggerStatus.IGNORED and "branch 'feature' is not tracked" in ignored.detail
    )
    tracked = _settings(
        tmp_path, db, "    on_commit:\n      branches: [main, feature]\n      debounce_seconds: 0\n"
    )
    assert (
        commit_trigger.record(db, tracked, "small", sha=head, branch="feature", source="t").status
        == "pending"
    )
    off = _settings(tmp_path, db, "    on_commit:\n      enabled: false\n")
    assert "disabled" in commit_trigger.record(db, off, "small", sha=head, branch="main", source="t").detail
    disconnect(db, "small")
    assert (
        "disconnected"
        in commit_trigger.record(db, settings, "small", sha=None, branch=None, source="t").detail
    )
    with db.session() as session:
        statuses = session.execute(select(CommitTrigger.status).order_by(CommitTrigger.id)).scalars().all()
    assert statuses == [
        "ignored",
        "pending",
        "ignored",
        "ignored",
    ]  # each push is kept, with what became of it


def test_bad_input_is_refused_and_records_nothing(connected: tuple[Database, Settings, Path]) -> None:
    db, settings, _repo = connected
    with pytest.raises(UnknownRepository):
        commit_trigger.record(db, settings, "nope", sha=None, branch=None, source="t")
    with pytest.raises(GitError, match="is not in the repository"):
        commit_trigger.record(
            db, settings, "small", sha="0123456789abcdef0123456789abcdef01234567", branch=None, source="t"
        )
    with pytest.raises(GitError, match="invalid branch name"):
        commit_trigger.record(db, settings, "small", sha=None, branch="a..b", source="t")
    with pytest.raises(GitError, match="not a commit sha"):
        commit_trigger.record(db, settings, "small", sha="HEAD; rm -rf /", branch=None, source="t")
    assert _pending(db) == []


def test_pushes_from_several_processes_share_one_window(
    pg_url: str, small_repo: Path, tmp_path: Path
) -> None:
    db = Database(pg_url)
    settings = _settings(tmp_path, db)
    connect(db, settings, str(small_repo), name="small")
    shas = []
    for i in range(6):
        write(small_repo, {f"f{i}.py": f"X = {i}\n"})
        shas.append(commit(small_repo, f"c{i}"))
    env = {**os.environ, "DATABASE_URL": pg_url, "WARMER_CONFIG": str(tmp_path / "engineering_cache.yaml"),
           "WARMER_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
    processes = [
        subprocess.Popen(
            [WARMER, "commit", "small", "--sha", sha], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for sha in shas
    ]
    for process in processes:
        assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    (pending,) = _pending(db)
    # Each push is counted in the window, or refused as older than a head another process already
    # moved on (webhooks may arrive out of order); the window ends at the newest commit either way.
    with db.session() as session:
        late = (
            session.execute(select(CommitTrigger).where(CommitTrigger.status == CommitTriggerStatus.IGNORED))
            .scalars()
            .all()
        )
        assert all("older than the branch head" in (row.detail or "") for row in late)
        assert pending.commits_seen + len(late) == 6
    assert pending.commit == shas[-1]
    db.dispose()
