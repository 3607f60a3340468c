"""Histories as real repositories have them, each pushed through the commit trigger and compared with a
from-scratch build of the head: empty commits, reverts, merges whose tree is a parent's, renames
with edits, deleted folders, bursts collapsed by the debounce window, and a force-push to an
unrelated history. The code is click's (real code nobody here wrote).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click
import pytest

from tests.support.gitrepo import commit, git, repo_from_tree
from tests.support.replay import SERVED, assert_serves_a_fresh_build, replay_settings, run_all, served
from warmer.cache.agent_api import get
from warmer.ledger.db import Database
from warmer.settings import Settings
from warmer.triggers import commit as commit_trigger
from warmer.triggers.connect import connect

ARTIFACTS = set(SERVED) - {"recent_change_summary"}


@pytest.fixture
def warmed(ledger: Database, tmp_path: Path) -> tuple[Database, Settings, Path]:
    repo = repo_from_tree(Path(click.__file__).parent, tmp_path / "click-edges")
    settings = replay_settings(tmp_path, ledger, "edges")
    connect(ledger, settings, str(repo), name="click")
    run_all(ledger, settings)
    return ledger, settings, repo


def _push(db: Database, settings: Settings, sha: str) -> None:
    commit_trigger.record(db, settings, "click", sha=sha, branch="main", source="test")
    assert [plan.commit for plan in commit_trigger.plan_due(db, settings, actor="test")] == [sha]
    run_all(db, settings)


def _summary(db: Database) -> dict:
    found = get(db, "click", "recent_change_summary", task_type="test")
    assert found.hit and found.payload is not None and not found.stale
    return found.payload


def _head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def test_an_empty_commit_and_a_revert_each_get_their_own_summary(
    warmed: tuple[Database, Settings, Path], tmp_path: Path
) -> None:
    db, settings, repo = warmed
    core = repo / "click" / "core.py"
    core.write_text(core.read_text() + "\n\ndef added_for_a_while():\n    return 1\n")
    edited = commit(repo, "add a helper")
    _push(db, settings, edited)
    assert _summary(db)["commit"] == edited

    empty = commit(repo, "an empty commit")  # same tree as its parent
    _push(db, settings, empty)
    summary = _summary(db)
    assert (summary["commit"], summary["subject"], summary["totals"]["files"]) == (
        empty,
        "an empty commit",
        0,
    )

    git(repo, "revert", "--no-edit", "HEAD~1")  # back to the connect's tree
    reverted = _head(repo)
    _push(db, settings, reverted)
    summary = _summary(db)
    assert summary["commit"] == reverted and summary["subject"].startswith("Revert")
    assert [s["name"] for s in summary["symbols"]["removed"]] == ["added_for_a_while"]
    assert_serves_a_fresh_build(db, repo, tmp_path, reverted, "revert", ARTIFACTS)


def test_a_merge_whose_tree_is_its_first_parents_gets_its_own_summary(
    warmed: tuple[Database, Settings, Path], tmp_path: Path
) -> None:
    db, settings, repo = warmed
    git(repo, "checkout", "--quiet", "-b", "side")
    (repo / "click" / "side.py").write_text("def side():\n    return 'side'\n")
    commit(repo, "side work")
    git(repo, "checkout", "--quiet", "main")
    git(repo, "merge", "--quiet", "-s", "ours", "--no-edit", "side")  # keeps main's tree
    merge = _head(repo)
    assert git(repo, "rev-parse", "HEAD^{tree}") == git(repo, "rev-parse", "HEAD~1^{tree}")
    _push(db, settings, merge)
    summary = _summary(db)
    assert summary["commit"] == merge and summary["totals"]["files"] == 0
    assert_serves_a_fresh_build(db, repo, tmp_path, merge, "merge", ARTIFACTS)


def test_a_rename_with_an_edit_and_a_deleted_folder(
    warmed: tuple[Database, Settings, Path], tmp_path: Path
) -> None:
    db, settings, repo = warmed
    source = (repo / "click" / "formatting.py").read_text()
    (repo / "click" / "formatting.py").unlink()
    (repo / "click" / "layout.py").write_text(source.replace("def wrap_text(", "def wrap_paragraphs("))
    renamed = commit(repo, "rename formatting to layout, rename a function")
    _push(db, settings, renamed)
    assert _summary(db)["totals"]["files"] >= 1
    assert_serves_a_fresh_build(db, repo, tmp_path, renamed, "rename", ARTIFACTS)

    (repo / "click" / "extra").mkdir()
    for name in ("a.py", "b.py"):
        (repo / "click" / "extra" / name).write_text(
            f"from click.core import Command\n\n\ndef {name[0]}():\n    pass\n"
        )
    _push(db, settings, commit(repo, "add a package"))
    shutil.rmtree(repo / "click" / "extra")
    deleted = commit(repo, "delete the package")
    _push(db, settings, deleted)
    now_served = served(db, {"symbol_index", "file_summary"})
    assert not [path for _kind, path in now_served if path.startswith("click/extra/")]
    assert_serves_a_fresh_build(db, repo, tmp_path, deleted, "deleted folder", ARTIFACTS)


def test_a_burst_collapsed_by_the_debounce_window_serves_the_final_tree(
    warmed: tuple[Database, Settings, Path], tmp_path: Path
) -> None:
    db, settings, repo = warmed
    core = repo / "click" / "core.py"
    heads = []
    for index in range(3):
        core.write_text(core.read_text() + f"\n\ndef burst_{index}():\n    return {index}\n")
        heads.append(commit(repo, f"burst {index}"))
        commit_trigger.record(db, settings, "click", sha=heads[-1], branch="main", source="test")
    assert [plan.commit for plan in commit_trigger.plan_due(db, settings, actor="test")] == [heads[-1]]
    run_all(db, settings)
    assert_serves_a_fresh_build(db, repo, tmp_path, heads[-1], "burst", ARTIFACTS)


def test_a_force_push_to_an_unrelated_history(
    warmed: tuple[Database, Settings, Path], tmp_path: Path
) -> None:
    db, settings, repo = warmed
    git(repo, "checkout", "--quiet", "--orphan", "rewritten")
    git(repo, "rm", "-r", "--quiet", "--cached", ".")
    for path in repo.iterdir():
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    (repo / "click").mkdir()
    for name in ("core.py", "types.py", "exceptions.py"):
        (repo / "click" / name).write_text((Path(click.__file__).parent / name).read_text())
    rewritten = commit(repo, "history rewritten")
    git(repo, "branch", "-f", "main", "rewritten")
    git(repo, "checkout", "--quiet", "main")
    _push(db, settings, rewritten)
    assert _summary(db)["commit"] == rewritten
    assert_serves_a_fresh_build(db, repo, tmp_path, rewritten, "force push", ARTIFACTS)
