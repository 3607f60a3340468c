"""Per-blob extract results in the ledger database, shared by every repo and branch."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from warmer.ledger.db import Database
from warmer.ledger.models import BlobExtract

_CHUNK = 500


class DbExtractCache:
    """Results of one (artifact type, generator version), keyed by blob id."""

    def __init__(self, db: Database, artifact_type: str, version: str) -> None:
        self.db = db
        self.artifact_type = artifact_type
        self.version = version

    def get_many(self, blob_ids: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        with self.db.session() as session:
            for start in range(0, len(blob_ids), _CHUNK):
                rows = session.execute(
                    select(BlobExtract.blob_id, BlobExtract.payload).where(
                        BlobExtract.artifact_type == self.artifact_type,
                        BlobExtract.generator_version == self.version,
                        BlobExtract.blob_id.in_(blob_ids[start : start + _CHUNK]),
                    )
                )
                found.update({row.blob_id: row.payload for row in rows})
        return found

    def put_many(self, results: dict[str, dict[str, Any]]) -> None:
        if not results:
            return
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
