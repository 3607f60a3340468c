"""Top-k semantic search over an embedding_index payload.

The query is embedded with the model the index was built with (a different model's vectors live in
another space: mixing them would rank noise). The commit's vectors are loaded once per process and
kept for the next queries, keyed by the model id and the payload's commit and tree; scores are cosine
similarities (all vectors are unit length, so a matrix-vector product), top-k by `argpartition`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from warmer.artifacts.embeddings.models import Embedder, embedder_for_model, require_numpy
from warmer.ledger.models import EmbeddingVector

if TYPE_CHECKING:
    import numpy as np

    from warmer.ledger.db import Database

MAX_QUERY_CHARS = 2000
MAX_K = 100
LOOKUP_BATCH = 1000
CACHED_INDEXES = 8  # commits whose vectors stay loaded; ~15 MB each for 10K chunks at 384 dimensions


@dataclass(frozen=True)
class LoadedIndex:
    matrix: np.ndarray  # one unit row per distinct chunk hash that has a vector
    rows: np.ndarray  # per payload chunk: its row in `matrix`, or -1 without a vector


_loaded: OrderedDict[tuple[str, str, str], LoadedIndex] = OrderedDict()
_loaded_lock = threading.Lock()
_embedders: dict[str, Embedder] = {}


def clear_cache() -> None:
    with _loaded_lock:
        _loaded.clear()


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


def _index(db: Database, payload: dict[str, Any]) -> LoadedIndex:
    import numpy as np

    key = (payload["model"], payload.get("commit", ""), payload.get("tree", ""))
    with _loaded_lock:
        if key in _loaded:
            _loaded.move_to_end(key)
            return _loaded[key]
    hashes = [chunk["hash"] for chunk in payload["chunks"]]
    stored = load_vectors(db, payload["model"], hashes)
    order = {h: i for i, h in enumerate(stored)}
    dim = int(payload["dim"])
    matrix = np.frombuffer(b"".join(stored.values()), dtype="<f4").reshape(len(stored), dim)
    rows = np.fromiter((order.get(h, -1) for h in hashes), dtype=np.int64, count=len(hashes))
    index = LoadedIndex(matrix.astype(np.float32, copy=False), rows)
    with _loaded_lock:
        _loaded[key] = index
        while len(_loaded) > CACHED_INDEXES:
            _loaded.popitem(last=False)
    return index


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
    import numpy as np

    model_id = payload["model"]
    embedder = embedder or _embedder_for(model_id)
    if embedder.model_id != model_id:
        raise ValueError(f"the index was built with {model_id}; the query embedder is {embedder.model_id}")
    index = _index(db, payload)
    chunks = payload["chunks"]
    if not chunks or len(index.matrix) == 0:
        return []
    vector = embedder.embed([text])[0]
    scores = np.full(len(chunks), -np.inf, dtype=np.float32)
    present = index.rows >= 0
    scores[present] = (index.matrix @ vector)[index.rows[present]]
    count = min(k, int(present.sum()))
    top = np.argpartition(-scores, count - 1)[:count] if count < len(scores) else np.arange(len(scores))
    top = top[np.argsort(-scores[top], kind="stable")]
    results = []
    for i in top[:count]:
        chunk = chunks[int(i)]
        results.append(
            {
                "path": chunk["path"],
                "start_line": chunk["start_line"],
                "end_line": chunk["end_line"],
                "symbol": chunk["symbol"],
                "kind": chunk["kind"],
                "score": round(float(scores[i]), 6),
            }
        )
    return results


__all__ = ["MAX_K", "MAX_QUERY_CHARS", "clear_cache", "load_vectors", "search_index"]
