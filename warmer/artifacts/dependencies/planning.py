"""When the dependency graph must be rebuilt: the product page's "package manifests or import
structure changed", narrowed from "any file it reads changed".

A manifest or any non-code file it reads (a lockfile, a tsconfig) changing always counts, as does a
source file entering or leaving the graph. A source file edited in place counts only when its
import-like lines changed: the regex is a conservative superset of every language's import syntax
the extractors read, so an edit it calls import-free cannot change an extract. A property test
(tests/unit/test_refresh_rules.py) holds this against fresh builds of real code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from warmer.artifacts.classify import is_source
from warmer.artifacts.relevance import KindOf, ReadBlob, Refresh, changed_inputs, summarize
from warmer.git.diff import ChangeKind, PathChange

_IMPORT_LINE = re.compile(
    rb"^\s*(import\s|from\s+\S+\s+import\s|export\s.*\sfrom\s|#\s*include\s|use\s|using\s"
    rb"|require(_relative)?[\s(]|package\s|mod\s|@import\s)|\brequire\s*\(|\bimport\s*\("
)


def import_lines(data: bytes) -> set[bytes]:
    """The import-like statements of a file, whitespace-normalized (a conservative superset)."""
    return {b" ".join(line.split()) for line in data.splitlines() if _IMPORT_LINE.search(line)}


def imports_changed(change: PathChange, read_blob: ReadBlob) -> bool:
    """Whether an edit in place changed a file's import-like lines."""
    assert change.old_blob is not None and change.new_blob is not None
    return import_lines(read_blob(change.old_blob)) != import_lines(read_blob(change.new_blob))


def dependency_refresh(kind_of: KindOf, changes: Sequence[PathChange], read_blob: ReadBlob) -> Refresh | None:
    manifests: list[str] = []
    moved: list[str] = []
    imports: list[str] = []
    for change in changed_inputs(kind_of, changes):
        edited_source = change.kind == ChangeKind.MODIFIED and is_source(change.path)
        if not edited_source:
            (moved if is_source(change.path) else manifests).append(change.path)
        elif imports_changed(change, read_blob):
            imports.append(change.path)
    if not (manifests or moved or imports):
        return None
    groups = {"manifests": manifests, "moved": moved, "imports": imports}
    return Refresh(None, "; ".join(f"{name}: {summarize(paths)}" for name, paths in groups.items() if paths))
