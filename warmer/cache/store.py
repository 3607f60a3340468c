"""Writing entries: content-addressed, idempotent, and separate from which branch serves them."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from warmer.artifacts.base import ArtifactResult
from warmer.ledger.db import utcnow
from warmer.ledger.models import CacheEntry, CacheRef


def entry_key(artifact_type: str, version: str, source_hash: str, path: str) -> str:
    """Hash of every true input of an entry: same inputs, same key, one row."""
    raw = json.dumps([artifact_type, version, source_hash, path])
    return hashlib.sha256(raw.encode()).hexdigest()


def write_result(
    session: Connection,
    *,
    repo_id: int,
    branch: str,
    commit: str,
    artifact_type: str,
    version: str,
    result: ArtifactResult,
    job_id: int | None,
) -> list[str]:
    """Store the entries and point the branch's refs at them; returns the entry keys.

    Writing the same entry twice leaves one entry (content addressing), and a
    ref is upserted, so a redelivered job changes nothing.
    """
    builder = postgresql.insert if session.dialect.name == "postgresql" else sqlite.insert
    keys = []
    for entry in result.entries:
        key = entry_key(artifact_type, version, entry.source_hash, entry.path)
        keys.append(key)
        session.execute(
            builder(CacheEntry.__table__)
            .values(
                key=key,
                artifact_type=artifact_type,
                generator_version=version,
                source_hash=entry.source_hash,
                payload=entry.payload,
            )
            .on_conflict_do_nothing()
        )
        ref = builder(CacheRef.__table__).values(
            repo_id=repo_id,
            branch=branch,
            artifact_type=artifact_type,
            path=entry.path,
            commit=commit,
            entry_key=key,
            job_id=job_id,
        )
        session.execute(
            ref.on_conflict_do_update(
                index_elements=["repo_id", "branch", "artifact_type", "path"],
                set_={"commit": commit, "entry_key": key, "job_id": job_id, "updated_at": utcnow()},
            )
        )
    if result.deleted_paths:
        session.execute(
            delete(CacheRef.__table__).where(
                CacheRef.repo_id == repo_id,
                CacheRef.branch == branch,
                CacheRef.artifact_type == artifact_type,
                CacheRef.path.in_(result.deleted_paths),
            )
        )
    return keys
