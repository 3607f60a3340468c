"""Agent lookups: return the entry a repository's tracked branch serves, and record every hit and miss.

Misses are what the miss trigger counts; hits feed the hit-rate analytics.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import Text, cast, select

from warmer.artifacts import registry
from warmer.cache import hit_recorder
from warmer.cache.entry_cache import ENTRIES
from warmer.cache.slices import slice_json, sliceable
from warmer.git.snapshot import safe_path
from warmer.ledger.db import Database
from warmer.ledger.lookup_stats import record_lookups
from warmer.ledger.models import BranchHead, CacheEntry, CacheRef, Repository
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
    still served, and counted toward the miss trigger like a miss.

    The payload travels as the JSON text the ledger holds (`payload_json`): the HTTP API sends it
    as it is, and `payload` decodes it only for callers that read it."""

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
    payload_json: bytes | None = field(default=None, repr=False)
    warming_job: int | None = None  # on a miss or a stale hit: the job now (or already) warming it

    @cached_property
    def payload(self) -> dict[str, Any] | None:
        return None if self.payload_json is None else json.loads(self.payload_json)

    def _fields(self) -> dict[str, Any]:
        return {
            "hit": self.hit, "repo": self.repo, "artifact_type": self.artifact_type, "path": self.path,
            "branch": self.branch, "commit": self.commit, "head": self.head, "stale": self.stale,
            "entry_key": self.entry_key, "generator_version": self.generator_version,
        }  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        return {**self._fields(), "payload": self.payload, "warming_job": self.warming_job}

    def json_bytes(self) -> bytes:
        """`as_json()` encoded, with the payload's text spliced in rather than decoded and encoded again."""
        head = json.dumps(self._fields())[:-1].encode()
        tail = json.dumps({"warming_job": self.warming_job})[1:].encode()
        return head + b', "payload": ' + (self.payload_json or b"null") + b", " + tail

    @property
    def etag(self) -> str | None:
        """Names what a hit's answer holds: the entry, and the commit and head it is served for."""
        if not self.hit:
            return None
        named = f"{self.entry_key}:{self.commit}:{self.head}:{self.warming_job}"
        return '"' + hashlib.sha256(named.encode()).hexdigest()[:32] + '"'


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
        row = _served_ref(session, repo, artifact_type, path)
        sliced = bool(path) and row is None and sliceable(artifact_type)
        if sliced:  # a per-file question about a whole-repository artifact
            row = _served_ref(session, repo, artifact_type, "")
        head = row.head or row.commit if row is not None else None
        stale = row is not None and head != row.commit
        entry = _entry(session, row.entry_key) if row is not None else None
        if sliced and entry is not None:
            entry = (entry[0], slice_json(artifact_type, row.entry_key, entry[1], path))
        recorded = dict(
            repo_id=repo.id, repo_name=repo.name, artifact_type=artifact_type, path=path,
            task_type=task_type, hit=row is not None, stale=stale,
        )  # fmt: skip
        recorder = hit_recorder.active()
        if recorder is not None and row is not None and not stale:
            recorder.add(db, recorded)
        else:
            record_lookups(session, [recorded])
    warming = None
    if settings is not None and (row is None or stale):
        warming = observe_miss(db, settings, repo, artifact_type, path, task_type)
    warming_job = warming.job_id if warming else None
    if row is None or entry is None:
        return LookupResult(False, repo.name, artifact_type, path, repo.branch, warming_job=warming_job)
    version, payload_json = entry
    return LookupResult(
        True, repo.name, artifact_type, path, repo.branch, row.commit, head, stale, row.entry_key,
        version, payload_json, warming_job,
    )  # fmt: skip


def _served_ref(session: Any, repo: Repository, artifact_type: str, path: str) -> Any:
    """The (commit, entry key, head) the repository's tracked branch serves for this artifact and path."""
    return session.execute(
        select(CacheRef.commit, CacheRef.entry_key, BranchHead.commit.label("head"))
        .outerjoin(BranchHead, (BranchHead.repo_id == repo.id) & (BranchHead.branch == repo.branch))
        .where(
            CacheRef.repo_id == repo.id,
            CacheRef.branch == repo.branch,
            CacheRef.artifact_type == artifact_type,
            CacheRef.path == path,
        )
    ).one_or_none()


def _entry(session: Any, key: str) -> tuple[str, bytes] | None:
    """(generator version, payload JSON) of an entry, from the process's cache or the ledger."""
    found = ENTRIES.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    row = session.execute(
        select(CacheEntry.generator_version, cast(CacheEntry.payload, Text).label("payload")).where(
            CacheEntry.key == key
        )
    ).one_or_none()
    if row is None:
        return None
    value = (row.generator_version, row.payload.encode())
    ENTRIES.put(key, value, len(value[1]))
    return value
