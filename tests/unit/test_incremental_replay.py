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

import click
import pytest

from tests.support.gitrepo import commit, git, repo_from_tree
from tests.support.replay import SERVED, assert_serves_a_fresh_build, replay_settings, run_all
from warmer.ledger.db import Database
from warmer.triggers import commit as commit_trigger
from warmer.triggers.connect import connect

COMMITS = 6
# embedding_index is replayed on a smaller corpus (test_embedding_index.py::
# test_commits_refreshed_in_place_equal_a_from_scratch_build) and on real releases through a worker
# (tests/integration/test_release_replay.py).


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
    settings = replay_settings(tmp_path, ledger, "incremental")
    connect(ledger, settings, str(corpus), name="click")
    run_all(ledger, settings)
    history = History(corpus, random.Random(20261122))
    versions: dict[str, set[str]] = {}  # artifact type → distinct whole-repository contents seen
    artifacts = set(SERVED) - {"recent_change_summary"}  # per commit by definition

    for index in range(COMMITS):
        head = history.step(index)
        commit_trigger.record(ledger, settings, "click", sha=head, branch="main", source="replay")
        assert [p.commit for p in commit_trigger.plan_due(ledger, settings, actor="replay")] == [head]
        run_all(ledger, settings)
        full = assert_serves_a_fresh_build(ledger, corpus, tmp_path, head, f"commit {index}", artifacts)
        for key, payload in full.items():
            if key[1] == "":
                versions.setdefault(key[0], set()).add(json.dumps(payload, sort_keys=True))

    # Not vacuous: the history changed every whole-repository artifact (the CI workflow appears once).
    changes = {kind: len(seen) for kind, seen in versions.items()}
    assert set(changes) == artifacts and changes["known_failure_fingerprint"] >= 2, changes
    assert min(changes[k] for k in ("file_summary", "dependency_graph", "test_map")) >= 3, changes
    assert min(changes[k] for k in ("symbol_index", "repo_map")) >= 3, changes
