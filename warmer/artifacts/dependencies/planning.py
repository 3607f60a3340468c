"""When the dependency graph must be rebuilt: the product page's "package manifests or import
structure changed", narrowed from "any file it reads changed".

A manifest or any non-code file it reads (a lockfile, a tsconfig) changing always counts, as does a
source file entering or leaving the graph. A source file edited in place counts only when what the
extractor reads from it changed: the planner runs the extractor itself on the file's two versions
(a commit's few files, milliseconds), so no second definition of "an import" can disagree with it.
A regex over import-like lines did: a random edit opening a string in real code changed the
extract (a syntax error) and not the lines (tests/unit/test_dependency_planning.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from warmer.artifacts.classify import is_source
from warmer.artifacts.relevance import KindOf, ReadBlob, Refresh, changed_inputs, summarize
from warmer.git.diff import ChangeKind, PathChange

ReadExtract = Callable[[str, bytes], dict[str, Any]]


def extract_changed(kind: str, change: PathChange, read_blob: ReadBlob, read_extract: ReadExtract) -> bool:
    """Whether an edit in place changed what the extractor reads from the file (its size aside)."""
    assert change.old_blob is not None and change.new_blob is not None
    before = read_extract(kind, read_blob(change.old_blob))
    after = read_extract(kind, read_blob(change.new_blob))
    return {k: v for k, v in before.items() if k != "size"} != {k: v for k, v in after.items() if k != "size"}


def dependency_refresh(
    kind_of: KindOf, changes: Sequence[PathChange], read_blob: ReadBlob, read_extract: ReadExtract
) -> Refresh | None:
    manifests: list[str] = []
    moved: list[str] = []
    imports: list[str] = []
    for change in changed_inputs(kind_of, changes):
        edited_source = change.kind == ChangeKind.MODIFIED and is_source(change.path)
        if not edited_source:
            (moved if is_source(change.path) else manifests).append(change.path)
        elif extract_changed(kind_of(change.path) or "", change, read_blob, read_extract):
            imports.append(change.path)
    if not (manifests or moved or imports):
        return None
    groups = {"manifests": manifests, "moved": moved, "imports": imports}
    return Refresh(None, "; ".join(f"{name}: {summarize(paths)}" for name, paths in groups.items() if paths))
