"""Writing entries: content-addressed, idempotent, and separate from which branch serves them.

A job hands over every entry it computed; only those whose key differs from what the branch's ref
already points at are written. The rest are confirmed in place (their ref moves to the job's
commit), so a refresh that recomputes a whole artifact in memory still writes in proportion to
what changed, and a redelivered job writes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from warmer.artifacts.base import ArtifactResult, Entry
from warmer.ledger.db import utcnow
from warmer.ledger.models import CacheEntry, CacheRef

_CHUNK = 500
Indexer = Callable[[Connection, Sequence[tuple[str, Entry]]], None]
# Above this many entries, read every ref of the artifact at once rather than by path lists.
_ALL_REFS_ABOVE = 200


def entry_key(artifact_type: str, version: str, source_hash: str, path: str) -> str:
    """Hash of every true input of an entry: same inputs, same key, one row."""
    raw = json.dumps([artifact_type, version, source_hash, path])
    return hashlib.sha256(raw.encode()).hexdigest()


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


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
    complete: bool = False,
    indexer: Indexer | None = None,
) -> list[str]:
    """Store the entries and point the branch's refs at them; returns the entry keys.

    `complete`: the result is the whole artifact (a job without a scope), so any other ref of it
    (a file gone since, a summary no longer asked for) is removed, as a fresh build would have it.
    `indexer`: the generator's secondary index (symbol rows), fed the entries stored for the first time."""
    builder = postgresql.insert if session.dialect.name == "postgresql" else sqlite.insert
    ours = (CacheRef.repo_id == repo_id, CacheRef.branch == branch, CacheRef.artifact_type == artifact_type)
    keyed = {e.path: (entry_key(artifact_type, version, e.source_hash, e.path), e) for e in result.entries}
    paths = sorted(keyed)
    current: dict[str, str] = {}
    query = select(CacheRef.path, CacheRef.entry_key).where(*ours)
    if len(paths) > _ALL_REFS_ABOVE:
        current = {row.path: row.entry_key for row in session.execute(query)}
    else:
        for chunk in _chunks(paths):
            current.update(
                {row.path: row.entry_key for row in session.execute(query.where(CacheRef.path.in_(chunk)))}
            )

    changed = [path for path in paths if current.get(path) != keyed[path][0]]
    unchanged = [path for path in paths if current.get(path) == keyed[path][0]]
    for chunk in _chunks(changed):
        rows = [
            {"key": keyed[p][0], "artifact_type": artifact_type, "generator_version": version,
             "source_hash": keyed[p][1].source_hash, "payload": keyed[p][1].payload}
            for p in chunk
        ]  # fmt: skip
        inserted = builder(CacheEntry.__table__).values(rows).on_conflict_do_nothing()
        if indexer is None:
            session.execute(inserted)
        else:  # only entries new to the store: identical content elsewhere is indexed already
            new = set(session.execute(inserted.returning(CacheEntry.key)).scalars())
            indexer(session, [(keyed[p][0], keyed[p][1]) for p in chunk if keyed[p][0] in new])
        refs = builder(CacheRef.__table__).values(
            [{"repo_id": repo_id, "branch": branch, "artifact_type": artifact_type, "path": p,
              "commit": commit, "entry_key": keyed[p][0], "job_id": job_id} for p in chunk]
        )  # fmt: skip
        session.execute(
            refs.on_conflict_do_update(
                index_elements=["repo_id", "branch", "artifact_type", "path"],
                set_={"commit": refs.excluded.commit, "entry_key": refs.excluded.entry_key,
                      "job_id": refs.excluded.job_id, "updated_at": utcnow()},
            )
        )  # fmt: skip
    for chunk in _chunks(unchanged):  # right at this commit too: confirmed, not rewritten
        session.execute(
            update(CacheRef).where(*ours, CacheRef.path.in_(chunk)).values(commit=commit, job_id=job_id)
        )
    gone = set(result.deleted_paths)
    if complete:
        if len(paths) <= _ALL_REFS_ABOVE:
            current = {row.path: row.entry_key for row in session.execute(query)}
        gone |= set(current) - set(keyed)
    for chunk in _chunks(sorted(gone)):
        session.execute(delete(CacheRef.__table__).where(*ours, CacheRef.path.in_(chunk)))
    return [keyed[path][0] for path in paths]
