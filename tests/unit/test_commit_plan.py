"""The commit trigger's artifact selection, row by row of the product page's table, on real commits."""

from __future__ import annotations

from pathlib import Path

import pytest
from dulwich.repo import Repo

from tests.support.gitrepo import commit, git, make_repo, write
from warmer.artifacts.classify import is_ci_config, is_manifest, is_test_file
from warmer.git.diff import tree_diff
from warmer.settings import ALL_COMMIT_ARTIFACTS
from warmer.triggers.commit_plan import CommitPlan, plan_commit

BASE = {
    "pyproject.toml": '[project]\nname = "demo"\ndependencies = ["requests"]\n',
    "app/__init__.py": "",
    "app/core.py": "import os\nfrom app import util\n\n\ndef run():\n    return util.go()\n",
    "app/util.py": "def go():\n    return 1\n",
    "tests/test_core.py": "from app.core import run\n\n\ndef test_run():\n    assert run() == 1\n",
    ".github/workflows/ci.yml": "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n",
    "README.md": "# demo\n",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "demo", BASE)


def _plan(repo: Path, edit: dict[str, str | None], configured: list[str] | None = None) -> CommitPlan:
    before = git(repo, "rev-parse", "HEAD^{tree}").strip()
    for path, content in edit.items():
        if content is None:
            git(repo, "rm", "-q", path)
        else:
            write(repo, {path: content})
    commit(repo, "change")
    after = git(repo, "rev-parse", "HEAD^{tree}").strip()
    dulwich_repo = Repo(str(repo))
    changes = tree_diff(dulwich_repo, before, after)
    return plan_commit(
        changes,
        configured or list(ALL_COMMIT_ARTIFACTS),
        lambda blob: dulwich_repo.object_store[blob.encode()].as_raw_string(),
    )


def test_a_body_edit_refreshes_only_its_summary_and_the_change_summary(repo: Path) -> None:
    plan = _plan(repo, {"app/util.py": "def go():\n    return 2\n"})
    assert plan.scopes == {"file_summary": ("app/util.py",), "recent_change_summary": None}
    assert plan.deleted == ()


def test_an_import_edit_refreshes_the_dependency_graph(repo: Path) -> None:
    plan = _plan(
        repo, {"app/core.py": BASE["app/core.py"].replace("import os\n", "import os\nimport json\n")}
    )
    assert set(plan.scopes) == {"file_summary", "dependency_graph", "recent_change_summary"}
    assert "imports: app/core.py" in plan.reasons["dependency_graph"]


def test_a_manifest_edit_refreshes_the_dependency_graph(repo: Path) -> None:
    plan = _plan(repo, {"pyproject.toml": BASE["pyproject.toml"].replace('"requests"', '"requests", "rich"')})
    assert (
        "dependency_graph" in plan.scopes and "manifests: pyproject.toml" in plan.reasons["dependency_graph"]
    )
    assert "test_map" not in plan.scopes


def test_a_test_edit_refreshes_test_map_and_failure_fingerprints(repo: Path) -> None:
    plan = _plan(
        repo, {"tests/test_core.py": BASE["tests/test_core.py"] + "\n\ndef test_more():\n    pass\n"}
    )
    assert {"test_map", "known_failure_fingerprint", "file_summary", "recent_change_summary"} == set(
        plan.scopes
    )


def test_a_ci_edit_refreshes_failure_fingerprints_only(repo: Path) -> None:
    plan = _plan(
        repo, {".github/workflows/ci.yml": BASE[".github/workflows/ci.yml"] + "      - run: pytest\n"}
    )
    assert set(plan.scopes) == {"file_summary", "known_failure_fingerprint", "recent_change_summary"}


def test_a_new_source_file_changes_associations_and_imports(repo: Path) -> None:
    plan = _plan(repo, {"app/extra.py": "VALUE = 1\n"})
    assert {"dependency_graph", "test_map"} <= set(plan.scopes)
    # A new module changes who imports what: every summary says who uses its file (warmer's own,
    # beyond the product page), so all are rebuilt and only the ones that came out different written.
    assert plan.scopes["file_summary"] is None


def test_deletions_and_renames_remove_the_old_entries(repo: Path) -> None:
    git(repo, "mv", "app/util.py", "app/helpers.py")
    plan = _plan(repo, {"README.md": None})
    assert plan.deleted == ("README.md", "app/util.py")
    assert plan.scopes["file_summary"] is None  # a module moved: who imports what changed
    assert "test_map" in plan.scopes  # a source file moved: name-based associations changed


def test_only_configured_artifacts_are_planned(repo: Path) -> None:
    plan = _plan(repo, {"pyproject.toml": "[project]\nname = 'demo'\n"}, configured=["recent_change_summary"])
    assert plan.scopes == {"recent_change_summary": None}


@pytest.mark.parametrize(
    ("path", "manifest", "test", "ci"),
    [
        ("requirements-dev.txt", True, False, False),
        ("web/package-lock.json", True, False, False),
        ("src/foo_test.go", False, True, False),
        ("web/src/app.spec.ts", False, True, False),
        ("src/test/java/com/x/FooTest.java", False, True, False),
        ("spec/models/user_spec.rb", False, True, False),
        (".circleci/config.yml", False, False, True),
        ("tox.ini", False, False, True),
        ("app/testing_utils.py", False, False, False),
        ("contest.py", False, False, False),
    ],
)
def test_path_classes(path: str, manifest: bool, test: bool, ci: bool) -> None:
    assert (is_manifest(path), is_test_file(path), is_ci_config(path)) == (manifest, test, ci)
