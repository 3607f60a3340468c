"""file_summary read from git objects: click's real modules, one hand-built repository per role rule,
commit scope with deletions, skipped files, the max_files cap, determinism and reuse by blob."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import click
import pytest

from tests.support.corpora import git_repo_of, pypi_sdist
from tests.support.extracts import CountingCache, generation_context
from tests.support.gitrepo import commit, git, make_repo, write
from warmer.artifacts.base import ArtifactResult
from warmer.artifacts.file_summary import FileSummary

CLICK_SOURCE = Path(click.__file__).parent


def run(
    repo: Path, cache: Any = None, scope: list[str] | None = None, params: dict[str, Any] | None = None
) -> ArtifactResult:
    ctx = generation_context(repo, cache=cache, params=params, scope=scope)
    return FileSummary().generate(ctx)


def by_path(result: ArtifactResult) -> dict[str, dict[str, Any]]:
    return {entry.path: entry.payload for entry in result.entries}


def blob_of(repo: Path, path: str) -> str:
    return git(repo, "rev-parse", f"HEAD:{path}").strip()


@pytest.fixture(scope="module")
def click_result(click_corpus: Path) -> ArtifactResult:
    return run(click_corpus)


# --- click, real code nobody here wrote ----------------------------------------------------------


def test_click_core_is_a_library_with_its_main_classes(
    click_corpus: Path, click_result: ArtifactResult
) -> None:
    core = by_path(click_result)["click/core.py"]
    assert core["artifact_type"] == "file_summary" and core["generator_version"] == "4"
    assert core["role"] == "library" and core["language"] == "python"
    assert core["blob"] == blob_of(click_corpus, "click/core.py")
    names = [s["name"] for s in core["main_symbols"]]
    assert {"Command", "Group", "Context", "Option"} <= set(names) and len(names) <= 10
    tree = ast.parse((CLICK_SOURCE / "core.py").read_text())
    top_classes = {node.name: node.lineno for node in tree.body if isinstance(node, ast.ClassDef)}
    for symbol in core["main_symbols"]:
        if symbol["kind"] == "class":
            assert top_classes[symbol["name"]] <= symbol["line"]  # decorators move ast's line up, never down
    assert core["lines"] == len((CLICK_SOURCE / "core.py").read_bytes().splitlines())
    assert core["purpose"] == ast.get_docstring(tree)  # click 8.x core.py has no module docstring: None
    assert core["summary"].startswith("Library module (python, ") and "Command" in core["summary"]


def _first_sentence(doc: str) -> str:
    paragraph = " ".join(doc.split("\n\n")[0].split())
    return re.split(r"(?<=[.!?])\s", paragraph, maxsplit=1)[0]


@pytest.mark.parametrize("module", ["__init__.py", "parser.py", "_termui_impl.py"])
def test_click_purpose_is_the_module_docstrings_first_sentence(
    click_result: ArtifactResult, module: str
) -> None:
    doc = ast.get_docstring(ast.parse((CLICK_SOURCE / module).read_text()))
    assert doc
    entry = by_path(click_result)[f"click/{module}"]
    expected = _first_sentence(doc)
    assert entry["purpose"] == (expected if len(expected) <= 200 else expected[:199].rstrip() + "…")
    assert f"Purpose: {entry['purpose']}" in entry["summary"]


def test_click_testing_main_symbols_are_its_public_classes_first(click_result: ArtifactResult) -> None:
    testing = by_path(click_result)["click/testing.py"]
    assert testing["role"] == "library"  # `testing.py` is a module name, not a test file
    ranks = [(s["name"].startswith("_"), s["kind"] != "class") for s in testing["main_symbols"]]
    assert ranks == sorted(ranks)  # public before private, then classes before functions
    assert "CliRunner" in [s["name"] for s in testing["main_symbols"]][:3]


def test_connect_writes_an_index_of_every_key_file(click_result: ArtifactResult) -> None:
    index = by_path(click_result)[""]
    expected = sorted(f"click/{p.name}" for p in CLICK_SOURCE.glob("*.py"))
    assert index["files"] == expected and index["truncated"] == 0
    assert sorted(path for path in by_path(click_result) if path) == expected
    assert click_result.deleted_paths == []


# --- one repository per role rule ----------------------------------------------------------------

FLASK_APP = '''\
"""User administration endpoints."""
from flask import Flask

app = Flask(__name__)


class UserView:
    pass


@app.route("/users")
def list_users():
    return []


@app.route("/users", methods=["POST"])
def create_user():
    return {}


@app.route("/users/<int:uid>", methods=["DELETE"])
def delete_user(uid):
    return {}


@app.get("/health")
def health():
    return "ok"
'''

DJANGO_MODELS = """\
from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=100)


class Book(models.Model):
    title = models.CharField(max_length=200)
"""

SQLALCHEMY_MODELS = """\
from sqlalchemy.orm import DeclarativeBase, Mapped


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
"""

MAIN_SCRIPT = """\
# Rebuild the search index from scratch.
import sys


def rebuild(path):
    return path


if __name__ == "__main__":
    rebuild(sys.argv[1])
"""

ALEMBIC = """\
\"\"\"add users table\"\"\"
from alembic import op

revision = "abc123"
down_revision = None


def upgrade():
    op.create_table("users")


def downgrade():
    op.drop_table("users")
"""

ROLE_FILES: dict[str, tuple[str, str]] = {
    "app/views.py": (FLASK_APP, "route_handler"),
    "shop/models.py": (DJANGO_MODELS, "model"),
    "db/tables.py": (SQLALCHEMY_MODELS, "model"),
    "tools_rebuild.py": (MAIN_SCRIPT, "entry_point"),
    "tests/test_views.py": ("def test_it():\n    assert True\n", "test"),
    "pkg/thing_test.go": ("package pkg\n\nfunc TestThing(t *testing.T) {}\n", "test"),
    "pyproject.toml": ('[project]\nname = "shop"\ndescription = "A small shop."\n', "manifest"),
    ".github/workflows/ci.yml": ("name: ci\non: push\njobs: {}\n", "ci"),
    "alembic/versions/abc123_add_users.py": (ALEMBIC, "migration"),
    "README.md": ("# Shop\n\n[![ci](badge.svg)](x)\n\nA tiny shop for tests.\nMore text.\n", "docs"),
    "mypy.ini": ("[mypy]\nstrict = true\n", "config"),
    "shop/settings.py": ("DEBUG = True\n", "config"),
    "Dockerfile": ("FROM python:3.11\n", "build"),
    "shop/cli.py": ("import click\n\n\n@click.command()\ndef main():\n    pass\n", "cli"),
    "scripts/deploy.sh": ("#!/usr/bin/env bash\necho deploy\n", "script"),
    "shop/gen_pb2.py": (
        "# -*- coding: utf-8 -*-\n# Generated by the protocol buffer compiler.  DO NOT EDIT!\n",
        "generated",
    ),
    "shop/util.py": ("def helper():\n    return 1\n", "library"),
    "cmd/server/main.go": ("package main\n\nfunc main() {}\n", "entry_point"),
}


@pytest.fixture(scope="module")
def roles_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    files: dict[str, bytes | str] = {path: content for path, (content, _role) in ROLE_FILES.items()}
    return make_repo(tmp_path_factory.mktemp("roles"), files)


@pytest.mark.parametrize("path", sorted(ROLE_FILES))
def test_each_role_rule(roles_repo: Path, path: str) -> None:
    entries = by_path(run(roles_repo, scope=sorted(ROLE_FILES)))
    assert entries[path]["role"] == ROLE_FILES[path][1], entries[path]


def test_flask_app_counts_its_routes_and_says_so(roles_repo: Path) -> None:
    views = by_path(run(roles_repo))["app/views.py"]
    assert views["routes"] == 4 and views["frameworks"] == ["flask"]
    assert views["purpose"] == "User administration endpoints."
    assert views["main_symbols"][0]["name"] == "UserView"
    assert views["summary"].startswith(
        "Route handlers (Flask): 4 routes. Purpose: User administration endpoints. "
        "Defines class UserView, functions "
    )
    assert views["summary"].endswith("No test reaches it through imports.")


def test_purpose_from_comments_readme_and_manifest(roles_repo: Path) -> None:
    entries = by_path(run(roles_repo))
    assert entries["tools_rebuild.py"]["purpose"] == "Rebuild the search index from scratch."
    assert entries["README.md"]["purpose"] == "A tiny shop for tests."
    assert entries["pyproject.toml"]["purpose"] == "A small shop."
    assert entries["alembic/versions/abc123_add_users.py"]["purpose"] == "add users table"
    assert entries["shop/util.py"]["purpose"] is None
    assert entries["Dockerfile"]["purpose"] is None


def test_connect_picks_key_files_only(roles_repo: Path) -> None:
    index = by_path(run(roles_repo))[""]
    # source anywhere, CI anywhere, README/manifest/config/build at the top; deploy.sh is not a code language
    assert "scripts/deploy.sh" not in index["files"]
    assert {"README.md", "pyproject.toml", "mypy.ini", "Dockerfile", ".github/workflows/ci.yml"} <= set(
        index["files"]
    )
    assert "cmd/server/main.go" in index["files"] and "shop/settings.py" in index["files"]


def test_max_files_caps_and_reports_the_count(roles_repo: Path) -> None:
    full = by_path(run(roles_repo))[""]["files"]
    capped = run(roles_repo, params={"max_files": 3})
    index = by_path(capped)[""]
    assert len(index["files"]) == 3 and index["truncated"] == len(full) - 3
    assert all("/" not in path for path in index["files"])  # top-level files are kept first
    assert len(capped.entries) == 4


def test_a_capped_connect_keeps_the_projects_own_source_before_its_tests(tmp_path: Path) -> None:
    """Flask 3.0.3's sdist: more key files under tests/ and examples/ than in src/flask. A cap that
    leaves room for the top-level files and the package keeps every src/flask module, no test."""
    repo = git_repo_of(pypi_sdist("flask", "3.0.3"), tmp_path / "flask")
    everything = by_path(run(repo))[""]["files"]
    package = [p for p in everything if p.startswith("src/flask/")]
    tests = [p for p in everything if p.startswith("tests/")]
    top = [p for p in everything if "/" not in p]
    assert len(tests) > len(package) > 20  # the cap used to fill shallowest-first: tests/ before src/flask/
    index = by_path(run(repo, params={"max_files": len(top) + len(package)}))[""]
    assert set(index["files"]) == set(top) | set(package)
    assert index["truncated"] == len(everything) - len(top) - len(package)


# --- commit scope, skipped files -----------------------------------------------------------------


def test_commit_scope_summarizes_only_scope_paths_and_deletes_missing_ones(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": "def a():\n    pass\n", "b.py": "def b():\n    pass\n"})
    (repo / "b.py").unlink()
    write(repo, {"c.py": "class C:\n    pass\n"})
    commit(repo, "delete b, add c")
    result = run(repo, scope=["b.py", "c.py"])
    # The commit's own files, and the index again: it must not keep listing b.py.
    assert [entry.path for entry in result.entries] == ["c.py", ""]
    assert result.entries[-1].payload["files"] == ["a.py", "c.py"]
    # Keyed by the content and by who uses it (nobody yet): both are inputs of the summary.
    assert (
        result.entries[0].payload["blob"] == blob_of(repo, "c.py")
        and result.entries[0].payload["imported_by"] == []
    )
    assert result.entries[0].payload["main_symbols"] == [{"name": "C", "kind": "class", "line": 1}]
    assert result.deleted_paths == ["b.py"]


def test_binary_non_utf8_oversize_and_symlinks_are_skipped_with_reasons(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {
            "bin.py": b"\x00\x01\x02",
            "latin.py": "x = 'caf\xe9'\n".encode("latin-1"),
            "big.py": "x = 1\n" * 100,
            "ok.py": "y = 2\n",
        },
    )
    (repo / "link.py").symlink_to("ok.py")
    commit(repo, "symlink")
    result = run(repo, params={"max_file_bytes": 100})
    index = by_path(result)[""]
    reasons = {s["path"]: s["reason"] for s in index["skipped"]}
    assert reasons == {
        "bin.py": "binary",
        "latin.py": "non_utf8",
        "big.py": "too_large",
        "link.py": "symlink",
    }
    assert index["files"] == ["ok.py"]
    scoped = run(repo, scope=["bin.py", "ok.py"], params={"max_file_bytes": 100})
    assert [e.path for e in scoped.entries] == ["ok.py", ""] and scoped.deleted_paths == ["bin.py"]


# --- determinism and reuse -----------------------------------------------------------------------


def test_deterministic_and_json_clean(click_corpus: Path, click_result: ArtifactResult) -> None:
    again = run(click_corpus)
    dump = [json.dumps([e.path, e.source_hash, e.payload], sort_keys=True) for e in click_result.entries]
    assert dump == [json.dumps([e.path, e.source_hash, e.payload], sort_keys=True) for e in again.entries]


def test_a_second_commit_extracts_only_the_changed_blob(click_corpus: Path, tmp_path: Path) -> None:
    cache = CountingCache()
    first = run(click_corpus, cache)
    files = len(by_path(first)[""]["files"])
    # Each blob is extracted once for its facts and, for Python, once for its imports (who uses it).
    imports = sum(1 for path in by_path(first)[""]["files"] if path.endswith(".py"))
    assert first.calls == {"extracted": files, "reused": 0} and cache.computed == files + imports
    work = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(click_corpus), str(work))
    source = (work / "click/utils.py").read_text()
    write(work, {"click/utils.py": source + "\n\nclass AddedLater:\n    pass\n"})
    commit(work, "change one file")
    second = run(work, cache)
    assert second.calls == {"extracted": 1, "reused": files - 1} and cache.computed == files + imports + 2
    before, after = by_path(first), by_path(second)
    assert "AddedLater" in [s["name"] for s in after["click/utils.py"]["main_symbols"]]
    assert {p: e for p, e in before.items() if p not in ("", "click/utils.py")} == {
        p: e for p, e in after.items() if p not in ("", "click/utils.py")
    }
