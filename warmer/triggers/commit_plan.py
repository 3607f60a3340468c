"""Which artifacts a commit refreshes, and for which paths: the product page's table, as code.

| artifact                  | refreshed when                                          |
|---------------------------|---------------------------------------------------------|
| file_summary              | for the files the commit added, modified or renamed     |
| dependency_graph          | package manifests or the import structure changed       |
| test_map                  | test files or source-test associations changed          |
| recent_change_summary     | always                                                  |
| known_failure_fingerprint | test files or CI configuration changed                  |

Deleted files' per-file entries are removed (they are in `deleted`). Whether a
modified file's imports changed is decided by `imports_changed`, which compares
the import statements of the old and new content line by line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from warmer.artifacts.classify import is_ci_config, is_manifest, is_source, is_test_file
from warmer.git.diff import ChangeKind, PathChange

_IMPORT_LINE = re.compile(
    rb"^\s*(import\s|from\s+\S+\s+import\s|export\s.*\sfrom\s|#\s*include\s|use\s|using\s"
    rb"|require(_relative)?[\s(]|package\s|mod\s|@import\s)|\brequire\s*\(|\bimport\s*\("
)


def import_lines(data: bytes) -> set[bytes]:
    """The import-like statements of a file, whitespace-normalized (a conservative superset)."""
    return {b" ".join(line.split()) for line in data.splitlines() if _IMPORT_LINE.search(line)}


def imports_changed(change: PathChange, read_blob: Callable[[str], bytes]) -> bool:
    """Whether a change can alter the import graph: files entering or leaving it always can."""
    if not is_source(change.path) and not (change.old_path and is_source(change.old_path)):
        return False
    if change.kind != ChangeKind.MODIFIED or change.old_blob is None or change.new_blob is None:
        return True
    return import_lines(read_blob(change.old_blob)) != import_lines(read_blob(change.new_blob))


@dataclass(frozen=True)
class CommitPlan:
    """Artifact → the paths to redo (None: the whole artifact), with the reason it was chosen."""

    scopes: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    deleted: tuple[str, ...] = ()


def plan_commit(
    changes: list[PathChange], configured: list[str], read_blob: Callable[[str], bytes]
) -> CommitPlan:
    """Choose, among the `on_commit.artifacts` configured, what this set of changes refreshes."""
    files = [c for c in changes if not c.is_submodule]
    touched = sorted({p for c in files for p in c.paths})
    written = tuple(sorted(c.path for c in files if c.kind != ChangeKind.DELETED))
    deleted = tuple(sorted({c.path for c in files if c.kind == ChangeKind.DELETED} | {
        c.old_path for c in files if c.kind == ChangeKind.RENAMED and c.old_path
    }))  # fmt: skip
    manifests = [p for p in touched if is_manifest(p)]
    tests = [p for p in touched if is_test_file(p)]
    ci = [p for p in touched if is_ci_config(p)]
    moved_sources = [c.path for c in files if c.kind != ChangeKind.MODIFIED and is_source(c.path)]
    import_edits = [c.path for c in files if c.kind == ChangeKind.MODIFIED and imports_changed(c, read_blob)]

    candidates: dict[str, tuple[tuple[str, ...] | None, str] | None] = {
        "file_summary": (written + deleted, f"{len(written)} written, {len(deleted)} removed")
        if written or deleted
        else None,
        "dependency_graph": (None, _why(manifests=manifests, moved=moved_sources, imports=import_edits))
        if manifests or moved_sources or import_edits
        else None,
        "test_map": (None, _why(tests=tests, moved=moved_sources)) if tests or moved_sources else None,
        "recent_change_summary": (None, "always"),
        "known_failure_fingerprint": (None, _why(tests=tests, ci=ci)) if tests or ci else None,
    }
    scopes: dict[str, tuple[str, ...] | None] = {}
    reasons: dict[str, str] = {}
    for artifact in configured:
        chosen = candidates.get(artifact, (None, "configured for every commit"))
        if chosen is not None:
            scopes[artifact], reasons[artifact] = chosen
    return CommitPlan(scopes, reasons, deleted)


def _why(**groups: list[str]) -> str:
    """e.g. "manifests: pyproject.toml; imports: app/main.py, app/util.py …" """
    return "; ".join(
        f"{name}: {', '.join(paths[:3])}{' …' if len(paths) > 3 else ''}"
        for name, paths in groups.items()
        if paths
    )
