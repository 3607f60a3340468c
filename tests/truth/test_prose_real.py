"""file_summary, repo_map and the secret rule on real code from the registries (issue 13's proof)."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support import corpora
from tests.support.extracts import generation_context
from tests.support.gitrepo import commit, git
from warmer.artifacts.classify import is_migration
from warmer.artifacts.file_summary import FileSummary
from warmer.artifacts.file_summary.docs import is_licence
from warmer.artifacts.file_summary.facts import extract_facts
from warmer.artifacts.repo_map import RepoMap
from warmer.artifacts.symbols import SymbolIndex, symbols_of

Row = Callable[[str, dict[str, Any]], None]
DJANGO = "5.2.8"
# Real secrets in the sdist: Django's own test settings.
DJANGO_SECRETS = {
    "tests/test_sqlite.py": "django_tests_secret_key",
    "tests/postgres_tests/integration_settings.py": "abcdefg",
}


def _javafx_base(scratch: Path) -> Path:
    archive = corpora.debian_package("openjfx-source") / "usr/share/openjfx/lib/src.zip"
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(scratch, [m for m in zipped.namelist() if m.startswith("javafx.base/")])
    return scratch / "javafx.base"


def _purposes(root: Path, pattern: str, kind: str) -> list[tuple[Path, str | None]]:
    return [
        (p, extract_facts(kind, p.read_bytes(), 1_000_000)["purpose"]) for p in sorted(root.rglob(pattern))
    ]


@pytest.mark.parametrize(
    ("kind", "source", "root", "pattern", "least"),
    [
        ("java", "Debian openjfx-source (javafx.base)", _javafx_base, "*.java", 0.8),
        ("go", "Debian golang-github-gin-gonic-gin-dev",
         lambda _: corpora.debian_package("golang-github-gin-gonic-gin-dev") / "usr/share/gocode/src", "*.go", 0.3),
        ("javascript", "npm express 4.21.2", lambda _: corpora.npm_package("express", "4.21.2") / "lib", "*.js", 0.0),
        ("rust", "Debian librust-serde-dev",
         lambda _: corpora.debian_package("librust-serde-dev") / "usr/share/cargo/registry", "*.rs", 0.5),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 12 else "",
)  # fmt: skip
def test_purposes_come_from_doc_comments_and_never_from_licences(
    kind: str, source: str, root: Callable[[Path], Path], pattern: str, least: float,
    tmp_path: Path, truth_table: Row,
) -> None:  # fmt: skip
    found = _purposes(root(tmp_path), pattern, kind)
    assert len(found) >= 10
    with_purpose = [(p, text) for p, text in found if text]
    licences = [(p, text) for p, text in with_purpose if is_licence(text)]
    # Every purpose is prose the file wrote about itself: it occurs in the file's text (comment markers aside).
    for path, text in with_purpose:
        words = text.rstrip(".…").split()[:4]
        assert all(word.strip(".,;:()`'\"") in path.read_text() for word in words), (path, text)
    truth_table(
        "file_summary purposes on real code",
        {"language": kind, "corpus": source, "files": len(found), "with a purpose": len(with_purpose),
         "licence text as purpose": len(licences)},
    )  # fmt: skip
    assert not licences, licences[:3]
    assert len(with_purpose) / len(found) >= least


@pytest.fixture(scope="module")
def django_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Django's own package plus its two test settings files that hold real SECRET_KEY values."""
    sdist = corpora.pypi_sdist("Django", DJANGO)
    repo = tmp_path_factory.mktemp("django") / "django"
    shutil.copytree(sdist / "django", repo / "django", ignore=shutil.ignore_patterns("__pycache__", "locale"))
    for path in DJANGO_SECRETS:
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sdist / path, repo / path)
    git(repo, "init", "--quiet", "-b", "main")
    commit(repo, f"Django {DJANGO}")
    return repo


def test_django_models_and_views_outrank_its_migrations(django_repo: Path, truth_table: Row) -> None:
    payload = RepoMap().generate(generation_context(django_repo)).entries[0].payload
    key = [f["path"] for f in payload["key_files"]]
    migrations_in_top = [p for p in key if is_migration(p)]
    truth_table(
        "repo_map on real code",
        {"corpus": f"PyPI Django {DJANGO} (django/)", "key files": len(key),
         "migrations among them": len(migrations_in_top),
         "first": ", ".join(p.removeprefix("django/") for p in key[:5])},
    )  # fmt: skip
    assert not migrations_in_top, migrations_in_top
    assert any(p.startswith("django/db/models/") for p in key) and any("/views/" in p for p in key)
    assert SECRET_VALUES_ABSENT(payload)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def SECRET_VALUES_ABSENT(payload: Any) -> bool:  # noqa: N802 - reads as the assertion it is
    """No stored string holds a secret value as the literal it was (`"abcdefg"` is also a substring of
    Django's alphabets, which are no secret)."""
    quoted = [q + value + q for value in DJANGO_SECRETS.values() for q in "\"'"]
    return not any(literal in text for text in _strings(payload) for literal in quoted)


def test_secret_values_never_reach_an_artifact(django_repo: Path) -> None:
    scope = sorted(DJANGO_SECRETS)
    symbols = symbols_of(SymbolIndex().generate(generation_context(django_repo)))
    summaries = FileSummary().generate(generation_context(django_repo, scope=scope)).entries
    keys = [s for s in symbols if s["name"] == "SECRET_KEY" and s["file"] in DJANGO_SECRETS]
    assert len(keys) == 2 and all(s["signature"] == "SECRET_KEY = ***" for s in keys)
    assert SECRET_VALUES_ABSENT(symbols)
    assert SECRET_VALUES_ABSENT([e.payload for e in summaries])


def test_undocumented_framework_files_get_summaries_a_reader_learns_from(
    tmp_path: Path, truth_table: Row
) -> None:
    sdist = corpora.pypi_sdist("flask", "3.1.2")
    repo = corpora.git_repo_of(sdist, tmp_path / "flask")
    entries = [e.payload for e in FileSummary().generate(generation_context(repo)).entries if e.path]
    source = [p for p in entries if p["path"].startswith("src/flask/") and p["path"].endswith(".py")]
    undocumented = [p for p in source if not p["purpose"]]
    informative = [p for p in undocumented if p.get("imported_by") or p.get("tested_by")]
    truth_table(
        "file_summary on undocumented files",
        {"corpus": "PyPI flask 3.1.2", "source files": len(source), "without a docstring": len(undocumented),
         "summary names importers or tests": len(informative)},
    )  # fmt: skip
    assert len(undocumented) >= 10
    assert len(informative) / len(undocumented) >= 0.9, [
        p["summary"] for p in undocumented if p not in informative
    ]
    app = next(p for p in source if p["path"] == "src/flask/app.py")
    assert app["role"] != "entry_point" and app["tested_by"] and "src/flask/__init__.py" in app["imported_by"]
