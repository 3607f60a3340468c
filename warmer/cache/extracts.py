"""Per-blob extract results in the ledger database, shared by every repo and branch.

A blob's extract never changes (its key is the content and the generator version), so a worker
process keeps the ones it read or computed decoded in memory (`MEMO`, bounded by
WARMER_EXTRACT_MEMO_MB): every whole-repository job of a commit reads every file's extract, and
without the memo each one fetched and decoded them all from the ledger again. Kept values are
shared, never copied: callers treat an extract as read-only (the replay tests compare builds made
through the memo with fresh builds in an empty ledger).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Text, cast, select
from sqlalchemy.dialects import postgresql, sqlite

from warmer.cache.entry_cache import EntryCache
from warmer.ledger.db import Database
from warmer.ledger.models import BlobExtract

_CHUNK = 500
# Decoded JSON takes several times its text: measured ~4x on symbol and chunk extracts.
_DECODED_PER_BYTE = 4
MEMO = EntryCache(256 * 1024 * 1024)


class DbExtractCache:
    """Results of one (artifact type, generator version), keyed by blob id."""

    def __init__(self, db: Database, artifact_type: str, version: str) -> None:
        self.db = db
        self.artifact_type = artifact_type
        self.version = version
        # One ledger's extracts are not another's: a fresh ledger starts with none kept.
        self._prefix = f"{db.url}|{artifact_type}|{version}|"

    def get_many(self, blob_ids: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        wanted: list[str] = []
        for blob in blob_ids:
            held = MEMO.get(self._prefix + blob)
            if held is None:
                wanted.append(blob)
            else:
                found[blob] = held
        if not wanted:
            return found
        with self.db.session() as session:
            for start in range(0, len(wanted), _CHUNK):
                rows = session.execute(
                    select(BlobExtract.blob_id, cast(BlobExtract.payload, Text)).where(
                        BlobExtract.artifact_type == self.artifact_type,
                        BlobExtract.generator_version == self.version,
                        BlobExtract.blob_id.in_(wanted[start : start + _CHUNK]),
                    )
                )
                for blob, text in rows:
                    found[blob] = json.loads(text)
                    MEMO.put(self._prefix + blob, found[blob], _DECODED_PER_BYTE * len(text))
        return found

    def put_many(self, results: dict[str, dict[str, Any]]) -> None:
        if not results:
            return
        texts = {blob: json.dumps(payload) for blob, payload in results.items()}
        rows = [
            {
                "artifact_type": self.artifact_type,
                "generator_version": self.version,
                "blob_id": b,
                "payload": p,
            }
            for b, p in results.items()
        ]
        builder = postgresql.insert if self.db.is_postgres else sqlite.insert
        with self.db.session() as session:
            for start in range(0, len(rows), _CHUNK):
                # A blob's row holds every kind read so far (`extract_files` merges before writing), so
                # the newer row replaces the older; two jobs racing on one blob at worst recompute a kind.
                statement = builder(BlobExtract).values(rows[start : start + _CHUNK])
                session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["artifact_type", "generator_version", "blob_id"],
                        set_={"payload": statement.excluded.payload},
                    )
                )
        for blob, payload in results.items():  # once stored: a failed write keeps nothing
            MEMO.put(self._prefix + blob, payload, _DECODED_PER_BYTE * len(texts[blob]))
