"""Top-k semantic search over an embedding_index payload, through a vector index kept loaded.

The query is embedded with the model the index was built with (runtime and precision included: a
different model's vectors live in another space, and mixing them would rank noise). The embedder is
built once per model id and process, so a long-running process (`warmer serve`, the MCP server) loads
the model once.

The commit's vectors live in a faiss index (`vector_index.py`) kept per (ledger, model, commit) in a
cache bounded by bytes (WARMER_SEARCH_CACHE_MB). A commit not yet loaded is derived from the most
recently used index of the same model and ledger when the two differ by few chunks: the ids it lost
are removed, the vectors it gained are read from the ledger and added, and the older commit's entry
is taken over rather than copied, so a one-function commit costs what that function costs. Otherwise
(first search in a process, a large change, an index drifted from its training) it is built anew.

A chunk text that appears in several places has one vector; the places are found by id, so every
chunk with a vector can be returned. Scores are cosine similarities.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from warmer.artifacts.embeddings.models import Embedder, embedder_for_model, require_numpy
from warmer.artifacts.embeddings.vector_index import (
    ExactIndex,
    FaissIndex,
    build_index,
    chunk_ids,
    require_faiss,
)
from warmer.ledger.models import EmbeddingVector

if TYPE_CHECKING:
    import numpy as np

    from warmer.ledger.db import Database

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 2000
MAX_K = 100
LOOKUP_BATCH = 1000
DEFAULT_CACHE_MB = 512  # ~4 Django-sized indexes (65K chunks: ~110 MB each)
DERIVE_MAX_SHARE = 0.3  # derive from another commit's index when at most this share of ids differ
DERIVE_MIN = 256  # …or at most this many, however small the index


@dataclass
class LoadedIndex:
    """One payload's chunks and the index of their vectors."""

    key: tuple[str, ...]
    model_id: str
    index: ExactIndex | FaissIndex
    chunk_ids: np.ndarray  # per payload chunk, its vector's id
    by_id: np.ndarray  # chunk positions sorted by id, to find every place an id appears
    sorted_ids: np.ndarray  # chunk_ids[by_id]
    members: np.ndarray  # sorted ids that have a vector in `index`
    stats: dict[str, Any] = field(default_factory=dict)  # how it was made: built or derived, counts, seconds


_loaded: OrderedDict[tuple[str, ...], LoadedIndex] = OrderedDict()
_lock = threading.RLock()  # guards `_loaded` and every index in it (derivation mutates in place)
_embedders: dict[str, Embedder] = {}


def clear_cache() -> None:
    with _lock:
        _loaded.clear()


def cache_limit_bytes() -> int:
    raw = os.environ.get("WARMER_SEARCH_CACHE_MB", "").strip()
    return int(float(raw) * 1024 * 1024) if raw else DEFAULT_CACHE_MB * 1024 * 1024


def load_vectors(db: Database, model_id: str, hashes: list[str]) -> dict[str, bytes]:
    """The stored vectors (float32 little-endian bytes) of those `hashes` that have one."""
    found: dict[str, bytes] = {}
    unique = list(dict.fromkeys(hashes))
    with db.session() as session:
        for i in range(0, len(unique), LOOKUP_BATCH):
            rows = session.execute(
                select(EmbeddingVector.chunk_hash, EmbeddingVector.vector).where(
                    EmbeddingVector.model_id == model_id,
                    EmbeddingVector.chunk_hash.in_(unique[i : i + LOOKUP_BATCH]),
                )
            )
            found.update((h, bytes(v)) for h, v in rows)
    return found


def _matrix(stored: dict[str, bytes], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids and vectors of the stored rows, in one buffer (no per-vector arithmetic in Python)."""
    import numpy as np

    hashes = list(stored)
    vectors = np.frombuffer(b"".join(stored.values()), dtype="<f4").reshape(len(hashes), dim)
    return chunk_ids(hashes), vectors.astype(np.float32, copy=False)


def _payload_key(db: Database, payload: dict[str, Any]) -> tuple[str, ...]:
    chunks = payload["chunks"]
    edge = f"{chunks[0]['hash']}:{chunks[-1]['hash']}" if chunks else ""
    return (db.url, payload["model"], payload.get("tree", ""), str(len(chunks)), edge)


def _derivable(
    db: Database, model_id: str, ids: np.ndarray
) -> tuple[LoadedIndex, np.ndarray, np.ndarray] | None:
    """The most recent loaded index of this model and ledger that differs from `ids` by few ids,
    with the ids to add and remove; None when there is none worth deriving from."""
    import numpy as np

    for base in reversed(_loaded.values()):
        if base.model_id != model_id or base.key[0] != db.url or base.index.stale():
            continue
        added = np.setdiff1d(ids, base.members, assume_unique=True)
        removed = np.setdiff1d(base.members, ids, assume_unique=True)
        if len(added) + len(removed) <= max(DERIVE_MIN, DERIVE_MAX_SHARE * len(ids)):
            return base, added, removed
        return None  # the most recent index of this model is far off; older ones rarely closer
    return None


def _load(db: Database, payload: dict[str, Any], key: tuple[str, ...]) -> LoadedIndex:
    import numpy as np

    started = time.perf_counter()
    model_id, dim = payload["model"], int(payload["dim"])
    hashes = [chunk["hash"] for chunk in payload["chunks"]]
    ids = chunk_ids(hashes)
    by_id = np.argsort(ids, kind="stable")
    sorted_ids = ids[by_id]
    unique = np.unique(sorted_ids)
    collision = len(unique) != len(set(hashes))
    found = None if collision else _derivable(db, model_id, unique)
    if found is not None:
        base, added, removed = found
        first = by_id[np.searchsorted(sorted_ids, added)]  # a chunk holding each added id
        stored = load_vectors(db, model_id, [hashes[i] for i in first])
        new_ids, new_vectors = _matrix(stored, dim)
        base.index.update(new_ids, new_vectors, removed)
        _loaded.pop(base.key)  # taken over: the older commit's index is now this one's
        index = base.index
        members = np.union1d(np.setdiff1d(base.members, removed, assume_unique=True), new_ids)
        stats = {"derived_from": base.key[2], "added": len(new_ids), "removed": len(removed)}
    else:
        stored = load_vectors(db, model_id, hashes)
        vector_ids, vectors = _matrix(stored, dim)
        index = ExactIndex(dim, vector_ids, vectors) if collision else build_index(dim, vector_ids, vectors)
        members = np.unique(vector_ids)
        stats = {"built": len(vector_ids)}
    stats["seconds"] = round(time.perf_counter() - started, 4)
    loaded = LoadedIndex(key, model_id, index, ids, by_id, sorted_ids, members, stats)
    log.info("vector index for %s %s: %s", model_id, payload.get("commit", ""), stats)
    return loaded


def loaded_index(db: Database, payload: dict[str, Any]) -> LoadedIndex:
    """The payload's index, loaded, derived or built, and kept for the next queries."""
    require_faiss()
    key = _payload_key(db, payload)
    with _lock:
        if key in _loaded:
            _loaded.move_to_end(key)
            return _loaded[key]
        loaded = _load(db, payload, key)
        _loaded[key] = loaded
        limit = cache_limit_bytes()
        while len(_loaded) > 1 and sum(item.index.nbytes for item in _loaded.values()) > limit:
            _loaded.popitem(last=False)
        return loaded


def _embedder_for(model_id: str) -> Embedder:
    """The embedder of the index's model (runtime and precision included), kept per model id so
    repeated queries neither rebuild it nor reload the model."""
    if model_id not in _embedders:
        embedder = embedder_for_model(model_id)
        if embedder.model_id != model_id:
            return embedder  # the caller reports the mismatch
        _embedders[model_id] = embedder
    return _embedders[model_id]


def validate(query: Any, k: Any) -> str:
    if not isinstance(query, str) or not query.strip():
        raise ValueError("query must be a non-empty string")
    if len(query) > MAX_QUERY_CHARS:
        raise ValueError(f"query is {len(query)} characters long; at most {MAX_QUERY_CHARS} are allowed")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise ValueError(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
    return query.strip()


def search_index(
    db: Database, payload: dict[str, Any], query: str, k: int = 10, embedder: Embedder | None = None
) -> list[dict[str, Any]]:
    """The k chunks of an embedding_index payload closest in meaning to `query`, best first:
    [{path, start_line, end_line, symbol, kind, score}], score the cosine similarity."""
    text = validate(query, k)
    require_numpy()
    model_id = payload["model"]
    embedder = embedder or _embedder_for(model_id)
    if embedder.model_id != model_id:
        raise ValueError(f"the index was built with {model_id}; the query embedder is {embedder.model_id}")
    chunks = payload["chunks"]
    if not chunks:
        return []
    vector = embedder.embed([text])[0]
    with _lock:
        loaded = loaded_index(db, payload)
        ids, scores = loaded.index.search(vector, k)
    return [_result(chunks[i], score) for i, score in _places(loaded, ids, scores, k)]


def _places(loaded: LoadedIndex, ids: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Chunk positions of the best ids, every place a text appears, in file order within one id."""
    import numpy as np

    places: list[tuple[int, float]] = []
    for vector_id, score in zip(ids.tolist(), scores.tolist(), strict=True):
        start = int(np.searchsorted(loaded.sorted_ids, vector_id, side="left"))
        end = int(np.searchsorted(loaded.sorted_ids, vector_id, side="right"))
        places.extend((int(i), score) for i in sorted(loaded.by_id[start:end].tolist()))
        if len(places) >= k:
            break
    return places[:k]


def _result(chunk: dict[str, Any], score: float) -> dict[str, Any]:
    return {
        "path": chunk["path"],
        "start_line": chunk["start_line"],
        "end_line": chunk["end_line"],
        "symbol": chunk["symbol"],
        "kind": chunk["kind"],
        "score": round(float(score), 6),
    }


__all__ = [
    "MAX_K",
    "MAX_QUERY_CHARS",
    "LoadedIndex",
    "clear_cache",
    "load_vectors",
    "loaded_index",
    "search_index",
]
