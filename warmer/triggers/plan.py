"""Turning a trigger's decision into ledger jobs (and messages when a broker is in use)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from warmer.ledger import transitions
from warmer.ledger.db import Database
from warmer.ledger.models import Repository, Trigger

log = logging.getLogger("warmer.triggers")


@dataclass(frozen=True)
class Planned:
    repo: str
    commit: str
    jobs: list[transitions.Enqueued]

    @property
    def created(self) -> list[transitions.Enqueued]:
        return [job for job in self.jobs if job.created]


def enqueue_artifacts(
    db: Database,
    repo: Repository,
    commit: str,
    artifacts: list[str],
    trigger: Trigger,
    actor: str,
    scope: tuple[str, ...] | None = None,
) -> Planned:
    """One job per artifact type, in one transaction; identical active jobs are not added twice."""
    with db.session() as session:
        jobs = [
            transitions.enqueue(
                session,
                transitions.JobSpec(
                    repo_id=repo.id,
                    branch=repo.branch,
                    commit=commit,
                    artifact_type=artifact,
                    trigger=trigger,
                    scope=scope,
                ),
                actor,
            )
            for artifact in dict.fromkeys(artifacts)
        ]
    return Planned(repo.name, commit, jobs)
