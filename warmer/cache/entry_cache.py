"""Entries kept in the serving process: a least-recently-used map bounded by bytes, by entry key.

An entry never changes once written (its key is the hash of what built it), so a copy held here is
never out of date: only which entry a branch serves changes, and that is read from the ledger on
every lookup. A hit then costs one small indexed query instead of fetching and decoding the entry.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

DEFAULT_MAX_BYTES = 128 * 1024 * 1024
_LARGEST_SHARE = 4  # one value may take at most a quarter of the cache


class EntryCache:
    """Thread-safe LRU of (value, size) pairs; a value too large for it is returned but not kept."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: str, value: Any, size: int) -> None:
        if size > self.max_bytes // _LARGEST_SHARE:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= old[1]
            self._items[key] = (value, size)
            self.size += size
            while self.size > self.max_bytes:
                _key, (_value, dropped) = self._items.popitem(last=False)
                self.size -= dropped

    def get_or_load(self, key: str, load: Callable[[], tuple[Any, int]]) -> Any:
        """The cached value, or `load()`'s (value, size), kept for next time."""
        found = self.get(key)
        if found is not None:
            return found
        value, size = load()
        self.put(key, value, size)
        return value

    def resize(self, max_bytes: int) -> None:
        with self._lock:
            self.max_bytes = max_bytes
            while self.size > self.max_bytes and self._items:
                _key, (_value, dropped) = self._items.popitem(last=False)
                self.size -= dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.size = 0


# One per process: `warmer serve` and `warmer mcp` size it from WARMER_ENTRY_CACHE_MB.
ENTRIES = EntryCache()
