"""The whole embedding index of a served manifest: its files' entries, fetched by key and kept.

embedding_index is stored per file under a manifest (`warmer.artifacts.embeddings`). A search needs
every chunk, so the manifest's file list names each file's entry key (blob, model, path); entries
come from the process's cache or, in batches, from the ledger. A commit that changed one file
costs one fetched entry here: the other files' entries are the previous commit's, already held.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Text, cast, select

from warmer.artifacts.embeddings import file_entry_key, index_payload
from warmer.cache.entry_cache import ENTRIES
from warmer.ledger.db import Database
from warmer.ledger.models import CacheEntry

FETCH_BATCH = 500
_SUFFIX = "#chunks"  # the decoded chunk list of a file entry, beside the entry's own JSON


class IndexIncomplete(LookupError):
    """A file entry the manifest names is not in the ledger (removed by retention, or another ledger's)."""


def whole_index(db: Database, manifest: dict[str, Any], manifest_key: str) -> dict[str, Any]:
    """The manifest with every chunk of its files, in path order (see `index_payload`)."""

    def build() -> tuple[dict[str, Any], int]:
        files = _file_entries(db, manifest)
        joined = index_payload(manifest, files)
        return joined, 200 * len(joined["chunks"]) + 64 * len(files)

    return ENTRIES.get_or_load(manifest_key + _SUFFIX, build)  # type: ignore[no-any-return]


def _file_entries(db: Database, manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    version, model = manifest["generator_version"], manifest["model"]
    keys = {path: file_entry_key(version, path, f["blob"], model) for path, f in manifest["files"].items()}
    found: dict[str, dict[str, Any]] = {}
    wanted: list[str] = []
    for key in keys.values():
        held = ENTRIES.get(key + _SUFFIX)
        if held is None:
            wanted.append(key)
        else:
            found[key] = held
    with db.session() as session:
        for start in range(0, len(wanted), FETCH_BATCH):
            rows = session.execute(
                select(CacheEntry.key, cast(CacheEntry.payload, Text).label("payload")).where(
                    CacheEntry.key.in_(wanted[start : start + FETCH_BATCH])
                )
            )
            for key, text in rows:
                chunks = {"chunks": json.loads(text)["chunks"]}
                ENTRIES.put(key + _SUFFIX, chunks, 200 * len(chunks["chunks"]) + 64)
                found[key] = chunks
    absent = [path for path, key in keys.items() if key not in found]
    if absent:
        raise IndexIncomplete(f"{len(absent)} file entries of the index are missing, e.g. {absent[0]}")
    return {path: found[key] for path, key in keys.items()}
