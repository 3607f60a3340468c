"""What a long-running serving process (`warmer serve`, `warmer mcp`) turns on at start."""

from __future__ import annotations

from warmer.cache import hit_recorder
from warmer.cache.entry_cache import ENTRIES
from warmer.settings import Settings


def start_serving(settings: Settings) -> None:
    """Keep entries in memory (WARMER_ENTRY_CACHE_MB) and record fresh hits in batches."""
    ENTRIES.resize(settings.entry_cache_mb * 1024 * 1024)
    hit_recorder.enable()
