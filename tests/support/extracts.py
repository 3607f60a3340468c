"""An in-memory extract cache for generator tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.gitrepo import git
from warmer.artifacts.base import GenerationContext
from warmer.git.snapshot import Snapshot


class CountingCache:
    """An in-memory extract cache that counts what the generator had to compute."""

    def __init__(self) -> None:
        self.store: dict[str, dict[str, Any]] = {}
        self.computed = 0

    def get_many(self, blob_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {b: self.store[b] for b in blob_ids if b in self.store}

    def put_many(self, results: dict[str, dict[str, Any]]) -> None:
        self.computed += len(results)
        self.store.update(results)


def generation_context(
    repo: Path,
    *,
    rev: str = "HEAD",
    cache: Any = None,
    params: dict[str, Any] | None = None,
    scope: list[str] | None = None,
) -> GenerationContext:
    """What a worker hands a generator, for the commit `rev` of a test's git repository."""
    sha = git(repo, "rev-parse", rev).strip()
    return GenerationContext(
        repo_name=repo.name,
        branch="main",
        snapshot=Snapshot(repo, sha),
        scope=scope,
        params=params or {},
        extracts=cache if cache is not None else CountingCache(),
        checkpoint=lambda: None,
    )
