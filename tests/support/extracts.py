"""An in-memory extract cache for generator tests."""

from __future__ import annotations

from typing import Any


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
