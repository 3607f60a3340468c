"""Agent lookups: return the entry a repository's tracked branch serves, and record every hit and miss.

Misses are what the miss trigger counts; hits feed the hit-rate analytics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from warmer.artifacts import registry
from warmer.git.snapshot import safe_path
from warmer.ledger.db import Database
from warmer.ledger.lookup_stats import record_lookups
from warmer.ledger.models import BranchHead, CacheEntry, CacheRef
from warmer.ledger.repositories import find
from warmer.settings import ALL_COMMIT_ARTIFACTS, ALL_CONNECT_ARTIFACTS, Settings
from warmer.triggers.miss import observe_miss

MAX_PATH = 4096
MAX_TASK_TYPE = 100


class InvalidLookup(ValueError):
    """The lookup itself is malformed (bad path, unknown type): nothing was recorded."""


@dataclass(frozen=True)
class LookupResult:
    """What an agent gets back. A hit says the commit its entry is right for (`commit`), the branch
    head, and `stale` when they differ (files the entry depends on changed since): a stale hit is
    still served, and counted toward the miss trigger like a miss."""

    hit: bool
    repo: str
    artifact_type: str
    path: str
    branch: str | None = None
    commit: str | None = None
    head: str | None = None
    stale: bool = False
    entry_key: str | None = None
    generator_version: str | None = None
    payload: dict[str, Any] | None = None
    warming_job: int | None = None  # on a miss or a stale hit: the job now (or already) warming it

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def known_artifact_types() -> set[str]:
    return set(ALL_CONNECT_ARTIFACTS) | set(ALL_COMMIT_ARTIFACTS) | set(registry.available())


def validate(artifact_type: str, path: str, task_type: str) -> None:
    if artifact_type not in known_artifact_types():
        raise InvalidLookup(
            f"unknown artifact type {artifact_type!r} (known: {', '.join(sorted(known_artifact_types()))})"
        )
    if path and (len(path) > MAX_PATH or not safe_path(path)):
        raise InvalidLookup(f"invalid path {path[:80]!r}: must be a relative path inside the repository")
    if not task_type or len(task_type) > MAX_TASK_TYPE or not task_type.isprintable():
        raise InvalidLookup(f"invalid task type {task_type[:80]!r}: 1-{MAX_TASK_TYPE} printable characters")


def lookup(
    db: Database,
    repo_name: str,
    artifact_type: str,
    *,
    task_type: str,
    path: str = "",
    settings: Settings | None = None,
) -> LookupResult:
    """The cached entry or a recorded miss. Raises on malformed input or an unknown repository.

    With `settings`, a miss (or a stale hit) is also offered to the miss trigger, which may enqueue
    a job at the branch head."""
    validate(artifact_type, path, task_type)
    with db.session() as session:
        repo = find(session, repo_name)
        session.expunge(repo)
        row = session.execute(
            select(
                CacheRef.commit, CacheEntry.key, CacheEntry.generator_version, CacheEntry.payload,
                BranchHead.commit.label("head"),
            )
            .join(CacheEntry, CacheEntry.key == CacheRef.entry_key)
            .outerjoin(BranchHead, (BranchHead.repo_id == repo.id) & (BranchHead.branch == repo.branch))
            .where(
                CacheRef.repo_id == repo.id,
                CacheRef.branch == repo.branch,
                CacheRef.artifact_type == artifact_type,
                CacheRef.path == path,
            )
        ).one_or_none()  # fmt: skip
        head = row.head or row.commit if row is not None else None
        stale = row is not None and head != row.commit
        record_lookups(
            session,
            [
                dict(
                    repo_id=repo.id,
                    repo_name=repo.name,
                    artifact_type=artifact_type,
                    path=path,
                    task_type=task_type,
                    hit=row is not None,
                    stale=stale,
                )
            ],
        )
    warming = None
    if settings is not None and (row is None or stale):
        warming = observe_miss(db, settings, repo, artifact_type, path, task_type)
    warming_job = warming.job_id if warming else None
    if row is None:
        return LookupResult(False, repo.name, artifact_type, path, repo.branch, warming_job=warming_job)
    return LookupResult(
        True, repo.name, artifact_type, path, repo.branch, row.commit, head, stale, row.key,
        row.generator_version, row.payload, warming_job,
    )  # fmt: skip
