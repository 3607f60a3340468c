"""Factories that put rows in the ledger in any state, as the tests need them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from warmer.ledger import transitions
from warmer.ledger.db import Database
from warmer.ledger.models import Job, JobStatus, Repository, Trigger


def add_repo(
    db: Database, source: str = "/tmp/nowhere", name: str = "demo", branch: str = "main"
) -> Repository:
    with db.session() as session:
        repo = Repository(name=name, source=source, branch=branch, connected=True)
        session.add(repo)
        session.flush()
        session.refresh(repo)
        session.expunge(repo)
    return repo


def add_job(
    db: Database,
    repo: Repository,
    *,
    commit: str = "0" * 40,
    artifact_type: str = "repo_map",
    trigger: Trigger = Trigger.CONNECT,
    params: dict[str, Any] | None = None,
    scope: tuple[str, ...] | None = None,
) -> int:
    with db.session() as session:
        enqueued = transitions.enqueue(
            session,
            transitions.JobSpec(
                repo_id=repo.id,
                branch=repo.branch,
                commit=commit,
                artifact_type=artifact_type,
                trigger=trigger,
                scope=scope,
                params=params or {},
            ),
            actor="test",
        )
    return enqueued.job_id


def job(db: Database, job_id: int) -> Job:
    with db.session() as session:
        row = session.get(Job, job_id)
        assert row is not None
        session.expunge(row)
    return row


def force(db: Database, job_id: int, **values: Any) -> None:
    """Set columns directly, e.g. an old heartbeat, to stage a scenario."""
    with db.session() as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))


def statuses(db: Database) -> dict[int, JobStatus]:
    with db.session() as session:
        return {row.id: row.status for row in session.query(Job.id, Job.status)}
