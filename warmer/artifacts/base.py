"""What an artifact generator is, and what it is handed.

A generator is a per-file *extract* (cached by artifact, generator version and
blob id, so unchanged or shared content is never recomputed) plus a *reduce*
over the whole commit. It returns entries; the runner stores them and marks
the job completed in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from warmer.git.snapshot import Snapshot

if TYPE_CHECKING:
    from warmer.ledger.db import Database


class JobLost(Exception):
    """The worker no longer owns the job (reclaimed elsewhere): stop without writing."""


class JobTimedOut(Exception):
    """The job ran past JOB_TIMEOUT_SECS; raised at a checkpoint, recorded as a failure."""


class PermanentError(Exception):
    """Retrying cannot help (unknown artifact type, malformed parameters): fail at once."""


class UnknownArtifactType(PermanentError):
    pass


class ExtractCache(Protocol):
    """Per-blob results of one generator version."""

    def get_many(self, blob_ids: list[str]) -> dict[str, dict[str, Any]]: ...

    def put_many(self, results: dict[str, dict[str, Any]]) -> None: ...


@dataclass
class GenerationContext:
    repo_name: str
    branch: str
    snapshot: Snapshot
    scope: list[str] | None
    params: dict[str, Any]
    extracts: ExtractCache
    # Call between units of work: raises JobLost (the job was taken away) or JobTimedOut.
    checkpoint: Callable[[], None]
    # The ledger, for generators whose inputs live beside the commit (embedding vectors by chunk hash,
    # ingested test failures). None in tests that exercise the pure per-file half.
    ledger: Database | None = None
    # Who watches the job's progress (`warmer warm`'s progress line): called as (unit, done, total).
    progress: Callable[[str, int, int], None] | None = None

    @property
    def commit(self) -> str:
        return self.snapshot.commit

    def report(self, unit: str, done: int, total: int) -> None:
        """Say how far the job is ("files", 40, 120); a no-op unless someone watches."""
        if self.progress is not None:
            self.progress(unit, done, total)


@dataclass(frozen=True)
class Entry:
    """One cache entry: `path` "" is the whole-repository artifact."""

    path: str
    # The git tree or blob id it was built from; a generator with other inputs (a model, ingested
    # failures) hashes them in, so different inputs never share an entry key.
    source_hash: str
    payload: dict[str, Any]


@dataclass
class ArtifactResult:
    entries: list[Entry]
    deleted_paths: list[str] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)  # e.g. blobs extracted vs reused


def whole_repository_header(generator: ArtifactGenerator, ctx: GenerationContext) -> dict[str, Any]:
    """The fields a whole-repository payload starts with: what built it, and from which tree.

    Nothing about the repository or the commit: an entry is shared by every repository, branch and
    commit with the same inputs, and the lookup adds who asked and which commit it is right for."""
    return {
        "artifact_type": generator.artifact_type,
        "generator_version": generator.version,
        "tree": ctx.snapshot.tree_id,
    }


class ArtifactGenerator(Protocol):
    artifact_type: ClassVar[str]
    version: ClassVar[str]

    def generate(self, ctx: GenerationContext) -> ArtifactResult: ...
