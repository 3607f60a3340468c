"""A repository's content at one commit, read from git objects.

Git's tree and blob ids are Merkle hashes: an entry keyed by a blob id is
valid wherever that content appears, in any commit, branch or repository.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

from dulwich.object_store import iter_tree_contents
from dulwich.objects import Commit
from dulwich.repo import Repo

from warmer.git.mirror import GitError, open_repository

SUBMODULE_MODE = 0o160000


@dataclass(frozen=True)
class FileEntry:
    path: str
    blob_id: str
    mode: int

    @property
    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self.mode)

    @property
    def is_submodule(self) -> bool:
        return self.mode == SUBMODULE_MODE


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def safe_path(path: str) -> bool:
    """A tree path that stays inside the repository (git refuses others; crafted trees may not)."""
    parts = path.split("/")
    return (
        bool(path)
        and "\0" not in path
        and not path.startswith("/")
        and all(part not in ("", ".", "..", ".git") for part in parts)
    )


class Snapshot:
    """The files of one commit. Reads go to the object store, never to a work tree.

    Opened on first use: a generator that never looks at the files pays nothing.
    """

    def __init__(self, repo_path: Path, commit: str, *, shared: bool = False) -> None:
        self.path = repo_path
        self.commit = commit
        self._shared = shared
        self._repo: Repo | None = None
        self._commit_obj: Commit | None = None

    def _open(self) -> Commit:
        if self._commit_obj is None:
            try:
                self._repo = open_repository(self.path) if self._shared else Repo(str(self.path))
                obj = self._repo[self.commit.encode()]
            except KeyError as exc:
                raise GitError(f"commit {self.commit} is not in {self.path}") from exc
            except Exception as exc:  # not a repository, unreadable, ...
                raise GitError(f"cannot open {self.path}: {exc}") from exc
            if not isinstance(obj, Commit):
                raise GitError(f"{self.commit} is not a commit")
            self._commit_obj = obj
        return self._commit_obj

    @property
    def repo(self) -> Repo:
        self._open()
        assert self._repo is not None
        return self._repo

    @property
    def tree_id(self) -> str:
        return self._open().tree.decode()

    @property
    def message(self) -> str:
        return self._open().message.decode("utf-8", "replace")

    def entries(self) -> tuple[list[FileEntry], list[Skipped]]:
        """Every file at the commit, plus what was left out and why (submodules, bad paths)."""
        files: list[FileEntry] = []
        skipped: list[Skipped] = []
        for entry in iter_tree_contents(self.repo.object_store, self.tree_id.encode()):
            try:
                path = entry.path.decode("utf-8")
            except UnicodeDecodeError:
                skipped.append(Skipped(entry.path.decode("utf-8", "replace"), "path is not UTF-8"))
                continue
            if not safe_path(path):
                skipped.append(Skipped(path, "path escapes the repository"))
            elif entry.mode == SUBMODULE_MODE:
                skipped.append(Skipped(path, "submodule (content lives in another repository)"))
            else:
                files.append(FileEntry(path, entry.sha.decode(), entry.mode))
        return files, skipped

    def read(self, blob_id: str) -> bytes:
        return self.repo.object_store[blob_id.encode()].as_raw_string()

    def close(self) -> None:
        if self._repo is not None and not self._shared:
            self._repo.close()
