"""The manual trigger: a person asks for a full warming (console button, `celery call`, CLI)."""

from __future__ import annotations

from warmer.git import mirror
from warmer.ledger.db import Database
from warmer.ledger.models import Trigger
from warmer.ledger.repositories import find
from warmer.settings import Settings
from warmer.triggers.commit import set_baseline
from warmer.triggers.connect import ConnectError
from warmer.triggers.plan import Planned, enqueue_artifacts


def full_warming(db: Database, settings: Settings, repo_name: str, *, actor: str) -> Planned:
    """Every baseline artifact again at the tracked branch's current head (manual trigger)."""
    with db.session() as session:
        repo = find(session, repo_name)
        session.expunge(repo)
    if not repo.connected:
        raise ConnectError(f"repository {repo.name!r} is disconnected; connect it again first")
    path = mirror.mirror_path(settings.data_dir, repo.name, repo.source)
    mirror.ensure_mirror(repo.source, path)
    mirror.fetch(path)
    head = mirror.resolve_branch(path, repo.branch)
    artifacts = settings.warmers.on_connect.artifacts
    planned = enqueue_artifacts(db, repo, head, artifacts, Trigger.MANUAL, actor=actor)
    set_baseline(db, repo.id, repo.branch, head, mirror.commit_tree(path, head))
    return planned
