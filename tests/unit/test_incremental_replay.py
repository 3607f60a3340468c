"""Incremental equals full: replay a history of real commits through the commit trigger, and after each
one compare what the branch serves with a from-scratch build of the same commit in an empty ledger.

The history is real code nobody here wrote (click, plus modules of the standard library's `json` and
`email` packages) changed the way projects change: functions removed and copied in, imports added,
files added, deleted and renamed, a manifest and a CI workflow edited, tests added. A seeded random
choice of edits keeps it reproducible.
"""

from __future__ import annotations

import ast
import email
import json
import random
import shutil
from pathlib import Path
from typing import Any

import click
import pytest
from sqlalchemy import select

from tests.support.gitrepo import commit, git, repo_from_tree
from warmer.ledger import migrate
from warmer.ledger.db import Database
from warmer.ledger.models import CacheEntry, CacheRef, Job, JobStatus, Trigger
from warmer.settings import ALL_COMMIT_ARTIFACTS, ALL_CONNECT_ARTIFACTS, Settings, load_settings
from warmer.triggers import commit as commit_trigger
from warmer.triggers.connect import connect
from warmer.triggers.plan import enqueue_artifacts
from warmer.worker.inline import run_jobs

COMMITS = 6
# Every artifact a branch serves, refreshed by commits (on_commit.keep_all_fresh, the default), but
# embedding_index: a from-scratch build per commit would embed the whole corpus again each time
# (test_embedding_index.py::test_commits_refreshed_in_place_equal_a_from_scratch_build replays
# commits for it on a smaller corpus).
SERVED = [a for a in dict.fromkeys([*ALL_CONNECT_ARTIFACTS, *ALL_COMMIT_ARTIFACTS]) if a != "embedding_index"]
# Identify the commit an entry was built at, not its content: an artifact a commit did not need to
# refresh keeps its older commit id while its content must still equal the fresh build's.
_COMMIT_FIELDS = {"commit", "tree", "base_commit"}


def _settings(tmp_path: Path, db: Database, name: str) -> Settings:
    config = tmp_path / f"{name}.yaml"
    artifacts = ", ".join(SERVED)
    config.write_text(
        "engineering_cache:\n  warmers:\n"
        f"    on_connect:\n      artifacts: [{artifacts}]\n"
        "    on_commit:\n      debounce_seconds: 0\n"
    )
    return load_settings(
        {
            "WARMER_CONFIG": str(config),
            "WARMER_DATA_DIR": str(tmp_path / f"{name}-data"),
            "DATABASE_URL": db.url,
        }
    )


def _run_all(db: Database, settings: Settings) -> None:
    with db.session() as session:
        queued = session.execute(select(Job.id).where(Job.status == JobStatus.QUEUED)).scalars().all()
    run_jobs(db, settings, queued, "replay")
    with db.session() as session:
        failed = session.execute(
            select(Job.artifact_type, Job.error).where(Job.status == JobStatus.FAILED)
        ).all()
    assert failed == []


def _served(db: Database, artifacts: set[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """(artifact type, path) → payload without the commit ids, for what the branch serves now."""
    with db.session() as session:
        rows = session.execute(
            select(CacheRef.artifact_type, CacheRef.path, CacheEntry.payload).join(
                CacheEntry, CacheEntry.key == CacheRef.entry_key
            )
        ).all()
    return {
        (row.artifact_type, row.path): {k: v for k, v in row.payload.items() if k not in _COMMIT_FIELDS}
        for row in rows
        if row.artifact_type in artifacts
    }


def assert_serves_a_fresh_build(
    ledger: Database, corpus: Path, tmp_path: Path, head: str, label: str, artifacts: set[str]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Build `head` from scratch in an empty SQLite ledger and check that `ledger` serves exactly
    that (entries and contents, commit ids aside); return what the fresh build serves."""
    incremental = _served(ledger, artifacts)
    slug = "fresh-" + "".join(c if c.isalnum() else "-" for c in label)
    fresh_db = Database(f"sqlite:///{tmp_path / slug}.db")
    migrate.upgrade(fresh_db)
    fresh_settings = _settings(tmp_path, fresh_db, slug)
    connected = connect(fresh_db, fresh_settings, str(corpus), name="click")
    _run_all(fresh_db, fresh_settings)
    # A commit summarizes the files it touched even when they are not key files: build those too.
    touched = sorted(
        path for kind, path in incremental if kind == "file_summary" and path
        and ("file_summary", path) not in _served(fresh_db, {"file_summary"})
    )  # fmt: skip
    if touched:
        enqueue_artifacts(
            fresh_db, connected.repo, head, ["file_summary"], Trigger.MANUAL, "replay", scope=tuple(touched)
        )
        _run_all(fresh_db, fresh_settings)
    full = _served(fresh_db, artifacts)
    fresh_db.dispose()
    assert sorted(incremental) == sorted(full), (
        f"{label}: different entries",
        sorted(set(incremental) ^ set(full)),
    )
    for key, payload in full.items():
        assert incremental[key] == payload, f"{label}: {key} differs from a fresh build"
    return full


def _top_level_functions(source: str) -> list[ast.FunctionDef]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.end_lineno]


class History:
    """Seeded, realistic edits to a git repository of real code."""

    def __init__(self, repo: Path, rng: random.Random) -> None:
        self.repo, self.rng = repo, rng
        donors = [*Path(json.__file__).parent.glob("*.py"), *Path(email.__file__).parent.glob("*.py")]
        self.donors = sorted(p for p in donors if p.stat().st_size < 60_000)
        self.added = 0

    def modules(self) -> list[Path]:
        return sorted(p for p in (self.repo / "click").glob("*.py") if p.name != "__init__.py")

    def drop_function(self) -> None:
        for path in self.rng.sample(self.modules(), len(self.modules())):
            lines = path.read_text().splitlines(keepends=True)
            functions = _top_level_functions("".join(lines))
            if functions:
                node = self.rng.choice(functions)
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
                path.write_text("".join(lines[:start] + lines[node.end_lineno :]))
                return

    def copy_function_in(self) -> None:
        donor = self.rng.choice(self.donors).read_text()
        functions = _top_level_functions(donor)
        if functions:
            node = self.rng.choice(functions)
            code = "".join(donor.splitlines(keepends=True)[node.lineno - 1 : node.end_lineno])
            target = self.rng.choice(self.modules())
            target.write_text(target.read_text() + "\n\n" + code)

    def add_import(self) -> None:
        target = self.rng.choice(self.modules())
        other = self.rng.choice([p for p in self.modules() if p != target])
        target.write_text(f"from click.{other.stem} import *  # noqa\n" + target.read_text())

    def add_module(self) -> None:
        self.added += 1
        donor = self.rng.choice(self.donors)
        shutil.copy(donor, self.repo / "click" / f"vendored_{self.added}_{donor.name}")

    def delete_module(self) -> None:
        git(self.repo, "rm", "--quiet", str(self.rng.choice(self.modules()).relative_to(self.repo)))

    def rename_module(self) -> None:
        source = self.rng.choice(self.modules())
        git(self.repo, "mv", str(source.relative_to(self.repo)), f"click/renamed_{source.name}")

    def add_test(self) -> None:
        subject = self.rng.choice(self.modules()).stem
        (self.repo / "tests").mkdir(exist_ok=True)
        (self.repo / "tests" / f"test_{subject}.py").write_text(
            f"from click import {subject}\n\n\ndef test_loads():\n    assert {subject}.__name__\n"
        )

    def edit_manifest(self) -> None:
        version = self.rng.randint(1, 9)
        (self.repo / "pyproject.toml").write_text(
            '[project]\nname = "click"\nversion = "8.0"\n'
            f"dependencies = [\"colorama>=0.{version}; platform_system == 'Windows'\"]\n"
        )

    def edit_ci(self) -> None:
        workflow = self.repo / ".github" / "workflows" / "tests.yml"
        workflow.parent.mkdir(parents=True, exist_ok=True)
        python = self.rng.choice(["3.11", "3.12", "3.13"])
        workflow.write_text(
            "name: tests\non: [push]\njobs:\n  tests:\n    runs-on: ubuntu-latest\n    steps:\n"
            f"      - uses: actions/setup-python@v5\n        with:\n          python-version: '{python}'\n"
            "      - run: pip install -e . pytest\n"
            f"      - run: pytest -q tests --maxfail={self.rng.randint(1, 50)}\n"
        )

    def step(self, index: int) -> str:
        edits = [
            self.drop_function, self.copy_function_in, self.add_import, self.add_module,
            self.delete_module, self.rename_module, self.add_test, self.edit_manifest, self.edit_ci,
        ]  # fmt: skip
        chosen = self.rng.sample(edits, 3 + index % 3)
        if index % 3 == 0 and self.edit_ci not in chosen:  # CI configuration changes now and then
            chosen.append(self.edit_ci)
        for edit in chosen:
            edit()
        return commit(self.repo, f"change {index}")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return repo_from_tree(Path(click.__file__).parent, tmp_path / "click-history")


def test_incremental_refreshes_serve_what_a_fresh_build_of_each_commit_serves(
    ledger: Database, corpus: Path, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, ledger, "incremental")
    connect(ledger, settings, str(corpus), name="click")
    _run_all(ledger, settings)
    history = History(corpus, random.Random(20261122))
    versions: dict[str, set[str]] = {}  # artifact type → distinct whole-repository contents seen
    artifacts = set(SERVED) - {"recent_change_summary"}  # per commit by definition

    for index in range(COMMITS):
        head = history.step(index)
        commit_trigger.record(ledger, settings, "click", sha=head, branch="main", source="replay")
        assert [p.commit for p in commit_trigger.plan_due(ledger, settings, actor="replay")] == [head]
        _run_all(ledger, settings)
        full = assert_serves_a_fresh_build(ledger, corpus, tmp_path, head, f"commit {index}", artifacts)
        for key, payload in full.items():
            if key[1] == "":
                versions.setdefault(key[0], set()).add(json.dumps(payload, sort_keys=True))

    # Not vacuous: the history changed every whole-repository artifact (the CI workflow appears once).
    changes = {kind: len(seen) for kind, seen in versions.items()}
    assert set(changes) == artifacts and changes["known_failure_fingerprint"] >= 2, changes
    assert min(changes[k] for k in ("file_summary", "dependency_graph", "test_map")) >= 3, changes
    assert min(changes[k] for k in ("symbol_index", "repo_map")) >= 3, changes
