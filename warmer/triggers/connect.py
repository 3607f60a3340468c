"""The connect trigger: a repository is added, re-connected, or its tracked branch changes.

Each of those builds the baseline: one job per `on_connect.artifacts` type at
the branch head, at connect priority. Connecting again with nothing changed
enqueues nothing new.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from sqlalchemy import select

from warmer.git import mirror
from warmer.ledger.db import Database, utcnow
from warmer.ledger.models import Repository, Trigger
from warmer.ledger.repositories import find
from warmer.settings import Settings
from warmer.triggers.commit import set_baseline
from warmer.triggers.plan import Planned, enqueue_artifacts

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")


class ConnectError(ValueError):
    pass


@dataclass(frozen=True)
class Connected:
    repo: Repository
    reason: str  # "new", "reconnected", "branch changed", "unchanged"
    planned: Planned | None


def default_name(source: str) -> str:
    tail = PurePosixPath(source.rstrip("/").split(":")[-1]).name
    return tail[:-4] if tail.endswith(".git") else tail


def connect(
    db: Database, settings: Settings, source: str, *, name: str | None = None, branch: str | None = None
) -> Connected:
    """Mirror the repository, record it, and enqueue its baseline when the trigger fires."""
    source = mirror.normalize_source(source)
    name = name or default_name(source)
    if not _NAME.match(name) or ".." in name:
        raise ConnectError(f"invalid repository name {name!r}: letters, digits, '.', '_', '-', '/' only")
    if branch is not None:
        mirror.validate_branch(branch)
    path = mirror.mirror_path(settings.data_dir, name, source)
    already_mirrored = (path / "HEAD").exists()
    mirror.ensure_mirror(source, path)
    if already_mirrored:
        mirror.fetch(path)
    branch = branch or mirror.default_branch(path)
    head = mirror.resolve_branch(path, branch)

    with db.session() as session:
        repo = session.execute(select(Repository).where(Repository.name == name)).scalar_one_or_none()
        if repo is None:
            repo = Repository(name=name, source=source, branch=branch, connected=True)
            session.add(repo)
            reason = "new"
        elif repo.source != source:
            raise ConnectError(
                f"a repository named {name!r} is already connected from {repo.source}; pass --name"
            )
        elif not repo.connected:
            reason = "reconnected"
        elif repo.branch != branch:
            reason = "branch changed"
        else:
            reason = "unchanged"
        if reason != "unchanged":
            repo.connected, repo.branch, repo.disconnected_at = True, branch, None
            repo.connected_at = utcnow()  # type: ignore[assignment]
        session.flush()
        session.refresh(repo)
        session.expunge(repo)

    if reason == "unchanged":
        return Connected(repo, reason, None)
    # Tracked from its head on: later commits diff against this tree, misses warm at this commit.
    set_baseline(db, repo.id, branch, head, mirror.commit_tree(path, head))
    on_connect = settings.warmers.on_connect
    if not on_connect.enabled:
        return Connected(repo, reason, None)
    artifacts = on_connect.artifacts
    planned = enqueue_artifacts(db, repo, head, artifacts, Trigger.CONNECT, actor="trigger:connect")
    return Connected(repo, reason, planned)


def disconnect(db: Database, repo_name: str) -> Repository:
    """Stop warming a repository: commit pushes are ignored until it is connected again (which
    re-runs the connect trigger). Its jobs, entries and history stay."""
    with db.session() as session:
        repo = find(session, repo_name)
        if not repo.connected:
            raise ConnectError(f"repository {repo.name!r} is already disconnected")
        repo.connected = False
        repo.disconnected_at = utcnow()  # type: ignore[assignment]
        session.flush()
        session.refresh(repo)
        session.expunge(repo)
    return repo
