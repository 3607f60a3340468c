"""Whether a hit is right for the branch head: heads, and refs carried forward when nothing they read changed.

A ref's `commit` is the newest commit its entry is known to be right for. A lookup compares it with
the branch head: the same commit is fresh, any other is stale (and says both commits).

Who moves things on:
- every accepted push moves the head (`move_head`), and at once carries forward every ref whose
  generator reads nothing the push changed (`advance`): those stay fresh without any job;
- a job writes its refs at its own commit, then `advance` catches them up to the head if more
  pushes came meanwhile and changed nothing they read;
- the worker leader's `sweep` repeats `advance` for branches with recently finished jobs, for the
  rare ref a crash between those two steps left behind.
Both writers lock the branch's head row first, so a push and a completing job see each other.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

from dulwich.objects import Commit
from dulwich.repo import Repo
from sqlalchemy import and_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from warmer.artifacts.relevance import refresh_of
from warmer.git import mirror
from warmer.git.diff import PathChange, tree_diff
from warmer.ledger.db import Database, utcnow
from warmer.ledger.models import BranchHead, CacheRef, Job, Repository
from warmer.settings import Settings

log = logging.getLogger("warmer.cache")
SWEEP_WINDOW = timedelta(minutes=10)
Executor = Connection | Session


def _head(conn: Executor, repo_id: int, branch: str, *, lock: bool) -> BranchHead | None:
    query = select(BranchHead.commit, BranchHead.tree).where(
        BranchHead.repo_id == repo_id, BranchHead.branch == branch
    )
    row = conn.execute(query.with_for_update() if lock else query).one_or_none()
    return BranchHead(repo_id=repo_id, branch=branch, commit=row.commit, tree=row.tree) if row else None


def set_head(conn: Executor, repo_id: int, branch: str, commit: str, tree: str) -> None:
    dialect = conn.dialect if isinstance(conn, Connection) else conn.get_bind().dialect
    builder = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    statement = builder(BranchHead.__table__).values(repo_id=repo_id, branch=branch, commit=commit, tree=tree)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["repo_id", "branch"],
            set_={"commit": commit, "tree": tree, "updated_at": utcnow()},
        )
    )


def behind_head(
    conn: Executor, mirror_path: Path, repo_id: int, branch: str, commit: str, *, lock: bool = False
) -> bool:
    """Whether `commit` is an older commit than the branch head (an ancestor of it, not the head).

    A push of such a commit is a late webhook delivery, or a force-push back to it: only the
    mirror's branch tip tells which. With `lock`, pushes and completing jobs of the branch wait."""
    current = _head(conn, repo_id, branch, lock=lock)
    if current is None or current.commit == commit:
        return False
    return mirror.is_ancestor(mirror_path, commit, current.commit)


def move_head(conn: Executor, git_repo: Repo, repo_id: int, branch: str, commit: str) -> int:
    """`commit` is the branch head now; refs its changes do not concern follow it at once.
    Returns how many refs moved. Call with the head row locked (`behind_head(lock=True)`)."""
    set_head(conn, repo_id, branch, commit, _tree(git_repo, commit) or "")
    return advance(conn, git_repo, repo_id, branch)


def _tree(git_repo: Repo, commit: str) -> str | None:
    try:
        obj = git_repo[commit.encode()]
    except KeyError:
        return None
    return obj.tree.decode() if isinstance(obj, Commit) else None


def advance(
    conn: Executor, git_repo: Repo, repo_id: int, branch: str, artifacts: Iterable[str] | None = None
) -> int:
    """Carry every ref of the branch (of `artifacts`, or all) that is behind the head forward to it
    where nothing its generator reads changed in between; returns how many refs moved.

    Per-file artifacts move file by file: a change to one file leaves the other files' refs fresh,
    and only the changed files' refs and the whole-repository entry ("") wait for their job."""
    head = _head(conn, repo_id, branch, lock=True)
    if head is None:
        return 0
    query = (
        select(CacheRef.artifact_type, CacheRef.commit)
        .where(CacheRef.repo_id == repo_id, CacheRef.branch == branch, CacheRef.commit != head.commit)
        .group_by(CacheRef.artifact_type, CacheRef.commit)
    )
    if artifacts is not None:
        query = query.where(CacheRef.artifact_type.in_(list(artifacts)))
    groups = conn.execute(query).all()
    diffs: dict[str, list[PathChange] | None] = {}
    moved = 0
    for artifact, commit in groups:
        if commit not in diffs:
            tree = _tree(git_repo, commit)
            diffs[commit] = None if tree is None else tree_diff(git_repo, tree, head.tree, renames=False)
        changes = diffs[commit]
        if changes is None:  # the commit is gone from the mirror (rewritten history): stays stale
            continue
        refresh = refresh_of(
            artifact, changes, lambda blob: git_repo.object_store[blob.encode()].as_raw_string()
        )
        statement = update(CacheRef).where(
            CacheRef.repo_id == repo_id,
            CacheRef.branch == branch,
            CacheRef.artifact_type == artifact,
            CacheRef.commit == commit,
        )
        if refresh is not None:
            if refresh.scope is None:
                continue
            statement = statement.where(CacheRef.path != "", CacheRef.path.not_in(refresh.scope))
        moved += conn.execute(statement.values(commit=head.commit)).rowcount
    return moved


def sweep(db: Database, settings: Settings) -> int:
    """The leader's pass: `advance` on every branch with a job finished in the last minutes."""
    since = db.now() - SWEEP_WINDOW
    with db.session() as session:
        branches = session.execute(
            select(Job.repo_id, Job.branch, Repository.name, Repository.source)
            .join(Repository, Repository.id == Job.repo_id)
            .where(and_(Job.finished_at.is_not(None), Job.finished_at >= since))
            .distinct()
        ).all()
    moved = 0
    for repo_id, branch, name, source in branches:
        path = mirror.mirror_path(settings.data_dir, name, source)
        if not (path / "HEAD").exists():
            continue  # mirrored on another host: that host's leader turn will do it
        try:
            with db.session() as session:
                moved += advance(session, mirror.open_repository(path), repo_id, branch)
        except Exception:  # one repository must not stop the pass for the others
            log.exception("cannot advance the refs of %s/%s", name, branch)
    return moved
