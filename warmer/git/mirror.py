"""Bare mirrors of connected repositories, kept by the real git binary.

Workers read artifacts from their own mirror, never from a working tree that
may be dirty; a mirror that lacks a commit is fetched before giving up.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dulwich.repo import Repo

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_URL = re.compile(r"^(https?|ssh|git|file)://|^[\w.-]+@[\w.-]+:")
_SHA = re.compile(r"^[0-9a-f]{4,64}$")
MAX_GIT_MESSAGE = 4000


class GitError(RuntimeError):
    """A repository could not be mirrored, fetched or read; the message says why."""


def _git(*args: str, cwd: Path | None = None, timeout: float = 900) -> str:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C"},
        )
    except FileNotFoundError as exc:
        raise GitError("the git binary is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {args[0]} timed out after {timeout:.0f}s") from exc
    if done.returncode != 0:
        raise GitError(f"git {args[0]} failed:{_message(done.stderr or done.stdout, done.returncode)}")
    return done.stdout


def _message(output: str, returncode: int) -> str:
    """All of git's message (its reason and its advice, e.g. for dubious ownership), not just the
    last line, which alone can read "and the repository exists."."""
    lines = [line.rstrip() for line in output.strip().splitlines() if line.strip()]
    if not lines:
        return f" exit {returncode}"
    text = f" {lines[0]}" if len(lines) == 1 else "\n  " + "\n  ".join(lines)
    return text if len(text) <= MAX_GIT_MESSAGE else text[:MAX_GIT_MESSAGE] + " …"


def validate_branch(name: str) -> str:
    """Refuse branch names git itself would refuse (odd characters, '..', '@{', ...)."""
    if not name or len(name) > 255 or any(ord(ch) < 32 for ch in name):
        raise GitError(f"invalid branch name {name!r}")
    try:
        _git("check-ref-format", "--branch", name, timeout=10)
    except GitError as exc:
        raise GitError(f"invalid branch name {name!r}") from exc
    return name


def normalize_source(source: str) -> str:
    """A clone URL as given, or a local path made absolute; anything else is refused."""
    if _URL.match(source):
        return source
    path = Path(source).expanduser().resolve()
    if not path.exists():
        raise GitError(f"{source}: no such directory, and not a git URL")
    if not (path / ".git").exists() and not (path / "HEAD").exists():
        raise GitError(f"{source}: not a git repository")
    return str(path)


def mirror_path(data_dir: Path, name: str, source: str) -> Path:
    """Where this host keeps its mirror of a repository: the same on every worker."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    return data_dir / "mirrors" / f"{_SAFE_NAME.sub('_', name)[:80]}-{digest}.git"


def ensure_mirror(source: str, path: Path) -> Path:
    """Clone `source` as a bare mirror at `path` unless it is already there.

    Several workers on one host may race here: one clones (under the mirror's
    file lock) into a temporary folder and renames it into place.
    """
    if (path / "HEAD").exists():
        return path
    with _exclusive(path):
        if (path / "HEAD").exists():  # another process cloned it while we waited
            return path
        partial = path.with_name(f"{path.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:6]}")
        try:
            _git("clone", "--mirror", "--quiet", source, str(partial))
            partial.rename(path)  # atomic: a half-cloned mirror is never mistaken for a whole one
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return path


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """One git writer per mirror on this host: concurrent fetches fight over ref locks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fetch(path: Path) -> None:
    with _exclusive(path):
        _git("fetch", "--prune", "--quiet", "origin", cwd=path)


def default_branch(path: Path) -> str:
    """The branch HEAD names in the mirror (the source's default branch)."""
    with Repo(str(path)) as repo:
        head = repo.refs.get_symrefs().get(b"HEAD")
    if not head or not head.startswith(b"refs/heads/"):
        raise GitError(f"{path}: cannot tell the default branch; pass --branch")
    return head[len(b"refs/heads/") :].decode()


def resolve_branch(path: Path, branch: str) -> str:
    """The commit sha the branch points at in the mirror."""
    with Repo(str(path)) as repo:
        sha = repo.refs.as_dict().get(f"refs/heads/{branch}".encode())
        known = sorted(ref.decode() for ref in repo.refs.keys(base=b"refs/heads/"))
    if sha is None and not known:
        raise GitError(f"no commits yet: nothing to warm until {branch!r} has a commit")
    if sha is None:
        raise GitError(
            f"branch {branch!r} not found" + (f" (branches: {', '.join(known[:10])})" if known else "")
        )
    return sha.decode()


def resolve_commit(path: Path, rev: str) -> str:
    """A full commit sha for `rev` (a sha or sha prefix), fetching once if it is unknown."""
    if not _SHA.match(rev):
        raise GitError(f"{rev!r} is not a commit sha")
    if len(rev) == 40 and _has_commit(path, rev):  # the hot path: no subprocess
        return rev
    _handles.pop((str(path), os.getpid()), None)  # the mirror is about to change under the cached handle
    for attempt in range(2):
        try:
            return _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=path, timeout=30).strip()
        except GitError:
            if attempt == 0:
                fetch(path)
    raise GitError(f"commit {rev} is not in the repository")


def commit_tree(path: Path, sha: str) -> str:
    """The root tree id of a commit in the mirror."""
    return open_repository(path)[sha.encode()].tree.decode()  # type: ignore[attr-defined]


def is_ancestor(path: Path, older: str, newer: str) -> bool:
    """Whether `older` is reachable from `newer` (git merge-base --is-ancestor; equal counts)."""
    if older == newer:
        return True
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C"}
    command = ["git", "merge-base", "--is-ancestor", older, newer]
    done = subprocess.run(command, cwd=path, capture_output=True, timeout=60, env=env)
    return done.returncode == 0


def _has_commit(path: Path, sha: str) -> bool:
    return sha.encode() in open_repository(path).object_store


_handles: dict[tuple[str, int], Repo] = {}  # (mirror, pid): a forked child opens its own
MAX_HANDLES = 16


def open_repository(path: Path) -> Repo:
    """A process-wide handle per mirror: opening a repository (refs, pack indexes) is not free.
    dulwich rescans the pack directory when an object is missing, so fetched packs are seen."""
    key = (str(path), os.getpid())
    if key not in _handles:
        if len(_handles) >= MAX_HANDLES:  # dropped, not closed: a snapshot may still read from it
            _handles.pop(next(iter(_handles)))
        _handles[key] = Repo(key[0])
    return _handles[key]


@atexit.register
def close_repositories() -> None:
    """Close this process's handles while Python can still run their cleanup: packs left to the
    garbage collector at interpreter shutdown print "Exception ignored in Pack.__del__" tracebacks."""
    pid = os.getpid()
    for key in [key for key in _handles if key[1] == pid]:
        _handles.pop(key).close()
