"""embedding_index: every function, class, method and paragraph of a commit as a vector, for semantic search.

Extract (per blob, cached through `extract_files`): the file's chunks (`chunks.py`): lines, symbol,
kind and the sha256 of the exact text embedded, never the text or the vector. Vectors live in the
ledger's `embedding_vectors` table keyed by (model id, chunk hash): a chunk whose text was embedded
before, in any file, commit, branch or repository, is not embedded again.

Entries, as symbol_index keeps them: one per file (`path` = the file: its chunks, keyed by its blob
and the model, so a commit writes only the files it changed) and the manifest (`path` ""): model,
per-file blobs and counts, what was skipped and why. `index_payload` joins a manifest and its files'
entries into the whole index that `search.py` loads and answers top-k queries from.

A commit job (ctx.scope set) writes the changed files' entries and the manifest; a file whose entry
is stored already had its vectors stored first, so only the changed files' chunks are looked up and
only the edited chunks reach the model.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from warmer.artifacts.base import (
    ArtifactResult,
    Entry,
    GenerationContext,
    PermanentError,
    whole_repository_header,
)
from warmer.artifacts.embeddings.chunks import Chunk, chunk_file, chunk_kind
from warmer.artifacts.embeddings.models import (
    Embedder,
    EmbeddingsUnavailable,
    LocalSentenceTransformer,
    OpenAICompatibleEmbedder,
    embedder_from_env,
)
from warmer.artifacts.extracting import extract_files
from warmer.artifacts.relevance import ReadBlob, Refresh, per_file_refresh
from warmer.cache.store import entry_key
from warmer.git.diff import PathChange
from warmer.ledger.models import CacheEntry, EmbeddingVector

if TYPE_CHECKING:
    import numpy as np

    from warmer.ledger.db import Database

DEFAULT_MAX_FILE_BYTES = 1_000_000
EMBED_GROUP = 256  # texts per model call: a checkpoint and a stored batch in between
LOOKUP_BATCH = 1000  # hashes per IN (...) query: well under SQLite's bound-parameter limit

__all__ = [
    "Embedder",
    "EmbeddingIndex",
    "EmbeddingsUnavailable",
    "LocalSentenceTransformer",
    "OpenAICompatibleEmbedder",
    "embedder_from_env",
    "file_source_hash",
    "index_of_result",
    "index_payload",
    "known_hashes",
    "store_vectors",
]

_default_embedder: Embedder | None = None


def default_embedder() -> Embedder:
    """The environment's embedder, built once per process (the local model loads on first use)."""
    global _default_embedder
    if _default_embedder is None:
        _default_embedder = embedder_from_env()
    return _default_embedder


def _batches(items: list[str], size: int) -> Iterable[list[str]]:
    return (items[i : i + size] for i in range(0, len(items), size))


def file_source_hash(blob: str, model_id: str) -> str:
    """A file entry's inputs: its content and the model (another model's chunks are another entry)."""
    return hashlib.sha256(f"{blob}:{model_id}".encode()).hexdigest()


def file_entry_key(version: str, path: str, blob: str, model_id: str) -> str:
    """The key of a file's entry, from what a manifest says of the file."""
    return entry_key(EmbeddingIndex.artifact_type, version, file_source_hash(blob, model_id), path)


def index_payload(manifest: dict[str, Any], files: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The whole index: the manifest and every chunk of its files' entries (`path` → entry payload),
    in path order, each chunk with its path."""
    chunks = [
        {"path": path, **chunk} for path in sorted(manifest["files"]) for chunk in files[path]["chunks"]
    ]
    return {**manifest, "chunks": chunks}


def index_of_result(result: ArtifactResult) -> dict[str, Any]:
    """The whole index of a run that emitted every file's entry (a full run, or nothing stored yet)."""
    [manifest] = [entry.payload for entry in result.entries if entry.path == ""]
    files = {entry.path: entry.payload for entry in result.entries if entry.path}
    absent = sorted(set(manifest["files"]) - set(files))
    if absent:
        raise ValueError(
            f"the run emitted {len(files)} of the index's files (not {absent[0]}): read the ledger"
        )
    return index_payload(manifest, files)


def stored_keys(db: Database, keys: list[str]) -> set[str]:
    """Which of these entry keys the ledger holds."""
    found: set[str] = set()
    with db.session() as session:
        for batch in _batches(keys, LOOKUP_BATCH):
            found.update(session.execute(select(CacheEntry.key).where(CacheEntry.key.in_(batch))).scalars())
    return found


def known_hashes(db: Database, model_id: str, hashes: list[str]) -> set[str]:
    """Which of `hashes` already have a vector under `model_id`."""
    found: set[str] = set()
    with db.session() as session:
        for batch in _batches(hashes, LOOKUP_BATCH):
            rows = session.execute(
                select(EmbeddingVector.chunk_hash).where(
                    EmbeddingVector.model_id == model_id, EmbeddingVector.chunk_hash.in_(batch)
                )
            )
            found.update(row[0] for row in rows)
    return found


def store_vectors(db: Database, model_id: str, hashes: list[str], vectors: np.ndarray) -> None:
    """Insert vectors as float32 little-endian bytes; a hash stored meanwhile by another job is kept."""
    if not hashes:
        return
    dim = int(vectors.shape[1])
    rows = [
        {"model_id": model_id, "chunk_hash": h, "dim": dim, "vector": v.astype("<f4").tobytes()}
        for h, v in zip(hashes, vectors, strict=True)
    ]
    builder = postgresql.insert if db.is_postgres else sqlite.insert
    with db.session() as session:
        session.execute(builder(EmbeddingVector.__table__).values(rows).on_conflict_do_nothing())


class EmbeddingIndex:
    artifact_type = "embedding_index"
    version = "2"  # 2: per-file entries under a manifest

    def __init__(self, embedder: Embedder | None = None) -> None:
        self._embedder = embedder

    def kind_of(self, path: str) -> str | None:
        return chunk_kind(path)

    def refresh(self, changes: Sequence[PathChange], read_blob: ReadBlob) -> Refresh | None:
        return per_file_refresh(self.kind_of, changes)  # chunks are per file, vectors per chunk

    def generate(self, ctx: GenerationContext) -> ArtifactResult:
        if ctx.ledger is None:
            raise PermanentError("embedding_index needs the ledger (ctx.ledger) to store and reuse vectors")
        embedder = self._embedder or default_embedder()
        model_id, dim = embedder.model_id, embedder.dim
        max_bytes = int(ctx.params.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES))

        # Texts of the chunks computed in this run: a new chunk's text is at hand without a second read.
        texts: dict[str, str] = {}

        def extract(_path: str, kind: str, data: bytes) -> dict[str, Any]:
            payload, chunks = chunk_file(kind, data, max_bytes)
            for chunk in chunks:
                texts.setdefault(chunk.hash, chunk.text)
            return payload

        done = extract_files(ctx, self.kind_of, extract, max_bytes)
        manifest, per_file = self._reduce(
            ctx, done.wanted, done.results, done.skipped, max_bytes, model_id, dim
        )
        keys = {
            path: file_entry_key(self.version, path, f["blob"], model_id)
            for path, f in manifest["files"].items()
        }
        ctx.checkpoint()
        stored = stored_keys(ctx.ledger, list(keys.values()))
        # A stored file entry was written after its vectors: only the other files' chunks are looked up.
        # Written: those files, and on a commit the files it changed (a reverted file's ref moves back).
        emit = sorted(path for path in per_file if keys[path] not in stored or ctx.scope is None)
        if ctx.scope is not None:
            emit = sorted(set(emit) | {path for path in ctx.scope if path in per_file})
        deleted = [] if ctx.scope is None else sorted(path for path in ctx.scope if path not in per_file)
        unstored = [path for path in emit if keys[path] not in stored]
        hashes = list(dict.fromkeys(c["hash"] for path in unstored for c in per_file[path]["chunks"]))

        ctx.checkpoint()
        known = known_hashes(ctx.ledger, model_id, hashes)
        missing = [h for h in hashes if h not in known]
        self._recover_texts(ctx, done.wanted, done.results, missing, texts, max_bytes)
        # Longest first across the whole run (as `encode` sorts within one call): batches of similar
        # length waste nothing on padding, whatever group they fall in.
        missing.sort(key=lambda h: -len(texts[h]))
        for done_count, group in enumerate(_batches(missing, EMBED_GROUP)):
            ctx.checkpoint()
            ctx.report("chunks", done_count * EMBED_GROUP, len(missing))
            vectors = embedder.embed([texts[h] for h in group])
            if vectors.shape != (len(group), dim):
                raise PermanentError(f"{model_id} returned shape {vectors.shape} for {len(group)} texts")
            store_vectors(ctx.ledger, model_id, group, vectors)
        ctx.report("chunks", len(missing), len(missing))
        entries = [Entry(path, file_source_hash(manifest["files"][path]["blob"], model_id), per_file[path])
                   for path in emit]  # fmt: skip
        # The model is an input like the tree: another model's index is another entry, never this one.
        source = hashlib.sha256(f"{ctx.snapshot.tree_id}:{model_id}".encode()).hexdigest()
        entries.append(Entry("", source, manifest))
        return ArtifactResult(
            entries,
            deleted_paths=deleted,
            calls={
                "extracted": done.extracted,
                "reused": done.reused,
                "chunks_embedded": len(missing),
                "chunks_reused": len(known),
            },
        )

    def _recover_texts(
        self,
        ctx: GenerationContext,
        wanted: list[Any],
        results: dict[tuple[str, str], dict[str, Any]],
        missing: list[str],
        texts: dict[str, str],
        max_bytes: int,
    ) -> None:
        """Texts of missing vectors whose extract came from the cache (another ledger held the vectors,
        or they were never stored): chunk those blobs again, which gives exactly the same chunks."""
        needed = {h for h in missing if h not in texts}
        if not needed:
            return
        for item in wanted:
            extract = results[(item.blob, item.kind)]
            if not needed.intersection(c["hash"] for c in extract["chunks"]):
                continue
            chunks: list[Chunk] = chunk_file(item.kind, ctx.snapshot.read(item.blob), max_bytes)[1]
            for chunk in chunks:
                if chunk.hash in needed:
                    texts[chunk.hash] = chunk.text
                    needed.discard(chunk.hash)
            if not needed:
                return
        if needed:  # the chunker changed without a version bump
            raise PermanentError(f"{len(needed)} cached chunk(s) no longer match their files' content")

    def _reduce(
        self,
        ctx: GenerationContext,
        wanted: list[Any],
        results: dict[tuple[str, str], dict[str, Any]],
        skipped: list[dict[str, str]],
        max_bytes: int,
        model_id: str,
        dim: int,
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """The manifest, and path → the file's entry for every file with chunks to index."""
        files: dict[str, dict[str, Any]] = {}
        per_file: dict[str, dict[str, Any]] = {}
        kinds: Counter[str] = Counter()
        total = 0
        for item in sorted(wanted, key=lambda w: w.path):
            extract = results[(item.blob, item.kind)]
            reason = extract.get("skipped") or ("too_large" if extract["size"] > max_bytes else None)
            if reason:
                skipped.append({"path": item.path, "reason": reason})
                continue
            files[item.path] = {"blob": item.blob, "kind": item.kind, "chunks": len(extract["chunks"])}
            if extract.get("error"):
                files[item.path]["error"] = extract["error"]
            kinds[item.kind] += 1
            total += len(extract["chunks"])
            per_file[item.path] = {
                "artifact_type": self.artifact_type,
                "generator_version": self.version,
                "path": item.path,
                "model": model_id,
                **files[item.path],
                "chunks": extract["chunks"],
            }
        manifest = {
            **whole_repository_header(self, ctx),
            "model": model_id,
            "dim": dim,
            "kinds": dict(sorted(kinds.items())),
            "counts": {"files": len(files), "chunks": total},
            "files": files,
            "skipped": sorted(skipped, key=lambda s: (s["path"], s["reason"])),
            "served_per_file": "each file's chunks: ?path=<file>; search: /search?q=",
        }
        return manifest, per_file
