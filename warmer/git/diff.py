"""What changed between two trees, read from git objects.

Git tree ids are Merkle hashes: a subtree whose id is the same in both trees is
identical all the way down and is never opened. The cost of a diff therefore
follows the size of the change, not the size of the repository. dulwich's
`tree_changes` walks the two trees that way; this module names the result.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from dulwich.diff_tree import (
    CHANGE_ADD,
    CHANGE_DELETE,
    CHANGE_MODIFY,
    CHANGE_RENAME,
    RenameDetector,
    tree_changes,
)
from dulwich.repo import Repo

from warmer.git.snapshot import SUBMODULE_MODE


class ChangeKind(enum.StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    RENAMED = "renamed"


@dataclass(frozen=True)
class PathChange:
    kind: ChangeKind
    path: str  # the path after the change (before it, for a deletion)
    old_path: str | None = None  # renames only
    old_blob: str | None = None
    new_blob: str | None = None
    is_submodule: bool = False

    @property
    def paths(self) -> tuple[str, ...]:
        """Every path this change touches (both sides of a rename)."""
        return (self.old_path, self.path) if self.old_path else (self.path,)


_KINDS = {
    CHANGE_ADD: ChangeKind.ADDED,
    CHANGE_MODIFY: ChangeKind.MODIFIED,
    CHANGE_DELETE: ChangeKind.DELETED,
    CHANGE_RENAME: ChangeKind.RENAMED,
}


def _text(path: bytes | None) -> str | None:
    return path.decode("utf-8", "surrogateescape") if path is not None else None


def tree_diff(repo: Repo, old_tree: str | None, new_tree: str, *, renames: bool = True) -> list[PathChange]:
    """The changed paths from `old_tree` (None: the empty tree) to `new_tree`, sorted by path.

    With `renames`, a deleted and an added file with similar content are one
    rename (git's default 50 % similarity is dulwich's 60 here, as in `git -M60`).
    A change of type (file to symlink) is a deletion and an addition, as in
    `git diff --no-renames` without `-B`.
    """
    detector = RenameDetector(repo.object_store) if renames else None
    changes: list[PathChange] = []
    for change in tree_changes(
        repo.object_store,
        old_tree.encode() if old_tree else None,
        new_tree.encode(),
        rename_detector=detector,
    ):
        kind = _KINDS.get(change.type)
        if kind is None:  # copies and unchanged entries are not asked for
            continue
        old, new = change.old, change.new
        mode = (new.mode if new is not None and new.mode else old.mode if old is not None else 0) or 0
        changes.append(
            PathChange(
                kind=kind,
                path=_text(new.path if kind != ChangeKind.DELETED else old.path) or "",
                old_path=_text(old.path) if kind == ChangeKind.RENAMED else None,
                old_blob=old.sha.decode() if old is not None and old.sha else None,
                new_blob=new.sha.decode() if new is not None and new.sha else None,
                is_submodule=mode == SUBMODULE_MODE,
            )
        )
    return sorted(changes, key=lambda c: (c.path, c.kind))
