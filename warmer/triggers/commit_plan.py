"""Which artifacts a commit refreshes, and for which paths: each generator's own rule (relevance.py).

The product page's five commit artifacts keep their documented rules, each written in its generator:

| artifact                  | refreshed when                                          |
|---------------------------|---------------------------------------------------------|
| file_summary              | for the files the commit added, modified or renamed     |
| dependency_graph          | package manifests or the import structure changed       |
| test_map                  | test files or source-test associations changed          |
| recent_change_summary     | always                                                  |
| known_failure_fingerprint | test files or CI configuration changed                  |

Beyond the page (`on_commit.keep_all_fresh`, on by default), every other artifact the branch serves
is refreshed too whenever a file its generator reads changed, so no hit is silently behind the head.
Deleted files' per-file entries are removed (they are in `deleted`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from warmer.artifacts.relevance import ReadBlob, refresh_of
from warmer.git.diff import ChangeKind, PathChange


@dataclass(frozen=True)
class CommitPlan:
    """Artifact → the paths to redo (None: the whole artifact), with the reason it was chosen."""

    scopes: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    deleted: tuple[str, ...] = ()


def plan_commit(changes: list[PathChange], configured: list[str], read_blob: ReadBlob) -> CommitPlan:
    """Choose, among the artifacts refreshed on commit, what this set of changes refreshes."""
    files = [c for c in changes if not c.is_submodule]
    deleted = tuple(sorted({c.path for c in files if c.kind == ChangeKind.DELETED} | {
        c.old_path for c in files if c.kind == ChangeKind.RENAMED and c.old_path
    }))  # fmt: skip
    scopes: dict[str, tuple[str, ...] | None] = {}
    reasons: dict[str, str] = {}
    for artifact in dict.fromkeys(configured):
        refresh = refresh_of(artifact, changes, read_blob)
        if refresh is not None:
            scopes[artifact], reasons[artifact] = refresh.scope, refresh.reason
    return CommitPlan(scopes, reasons, deleted)
