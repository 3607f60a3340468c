"""Nearest chunk vectors through faiss, updated by the chunks a commit changed rather than rebuilt.

A commit's index holds its distinct chunk vectors under 63-bit ids read from the chunk hashes, so the
same text has the same id in every commit: the next commit's index is this one minus the ids it lost
plus the ids it gained (`update`), costing what the change costs.

- Up to FLAT_MAX vectors: `IndexFlatIP`, exact (a brute-force scan of a few thousand rows is faster
  than any approximate structure).
- Above: `IndexIVFFlat`, inner product (vectors are unit length: cosine): k-means cells trained once
  on the vectors at hand, each query scanning the `nprobe` nearest cells. Measured on real chunk
  vectors against exact search (bench/embeddings.py, tests/unit/test_vector_index.py): recall@10
  >= 0.99 at NPROBE. Training costs about a second for Django's 65K vectors; adding is cheaper still.
  A direct map (hash table) makes removal by id proportional to the ids removed.

The cells stay those of the first build while commits add and remove vectors; `stale()` says when the
index has drifted far enough from what it was trained on to be rebuilt (grown or shrunk 2x).

`ExactIndex` is the same interface by a matrix product over every vector: the oracle in tests and
the fallback when two distinct hashes share a 63-bit id (odds about 1 in 10^10 for 65K chunks).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from warmer.artifacts.embeddings.models import EmbeddingsUnavailable, missing_module

if TYPE_CHECKING:
    import numpy as np

FLAT_MAX = 8192
VECTORS_PER_CELL = 64  # cells = vectors / 64: cells of ~64 vectors after training
MAX_CELLS = 4096
TRAIN_PER_CELL = 40  # k-means sample: faiss warns below 39 points per centroid
NPROBE = 24  # cells scanned per query
DRIFT = 2.0  # rebuild once the index has grown or shrunk this many times from its training size

_omp_lock = threading.Lock()


def require_faiss() -> None:
    if missing_module("faiss") or missing_module("numpy"):
        raise EmbeddingsUnavailable("vector search needs faiss-cpu: pip install 'warmer[embeddings]'")


def chunk_ids(hashes: list[str]) -> np.ndarray:
    """The 63-bit id of each chunk hash (its first 16 hex digits, top bit cleared: faiss ids are int64)."""
    import numpy as np

    if not hashes:
        return np.zeros(0, dtype=np.int64)
    raw = np.frombuffer(bytes.fromhex("".join(h[:16] for h in hashes)), dtype=">u8")
    return (raw & np.uint64(0x7FFF_FFFF_FFFF_FFFF)).astype(np.int64)


class ExactIndex:
    """Every vector scored for every query: the oracle the approximate index is measured against."""

    def __init__(self, dim: int, ids: np.ndarray, vectors: np.ndarray) -> None:
        import numpy as np

        self.dim = dim
        self.ids = np.asarray(ids, dtype=np.int64)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        return int(self.vectors.nbytes + self.ids.nbytes)

    def stale(self) -> bool:
        return False

    def update(self, add_ids: np.ndarray, add_vectors: np.ndarray, remove_ids: np.ndarray) -> None:
        import numpy as np

        keep = ~np.isin(self.ids, remove_ids)
        self.ids = np.concatenate([self.ids[keep], np.asarray(add_ids, dtype=np.int64)])
        self.vectors = np.ascontiguousarray(
            np.concatenate([self.vectors[keep], add_vectors]), dtype=np.float32
        )

    def search(self, vector: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The `count` best ids and their scores, best first (ties: lower id first)."""
        import numpy as np

        if len(self.ids) == 0 or count <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self.vectors @ np.asarray(vector, dtype=np.float32)
        count = min(count, len(scores))
        top = np.argpartition(-scores, count - 1)[:count] if count < len(scores) else np.arange(len(scores))
        top = top[np.lexsort((self.ids[top], -scores[top]))]
        return self.ids[top], scores[top]


class FaissIndex:
    """The faiss index of one set of chunk vectors (see the module docstring for which kind)."""

    def __init__(
        self,
        dim: int,
        ids: np.ndarray,
        vectors: np.ndarray,
        *,
        nprobe: int = NPROBE,
        flat_max: int = FLAT_MAX,
        vectors_per_cell: int = VECTORS_PER_CELL,
    ) -> None:
        require_faiss()
        import faiss
        import numpy as np

        self.dim = dim
        self.nprobe = nprobe
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.trained_on = len(ids)
        self.cells = 0
        if len(ids) <= flat_max:
            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        else:
            self.cells = min(MAX_CELLS, max(16, len(ids) // vectors_per_cell))
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, self.cells, faiss.METRIC_INNER_PRODUCT)
            sample = np.random.default_rng(0).choice(
                len(ids), min(len(ids), self.cells * TRAIN_PER_CELL), replace=False
            )
            index.cp.verbose = False
            index.train(vectors[np.sort(sample)])
            index.set_direct_map_type(faiss.DirectMap.Hashtable)
            index.nprobe = nprobe
            self._index = index
            self._quantizer = quantizer  # faiss does not own it from Python: keep it alive
        self._index.add_with_ids(vectors, ids)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def nbytes(self) -> int:
        # Vectors and ids, plus the cells' centroids: what the process holds for this index.
        return int(len(self) * (self.dim * 4 + 8) * 1.1 + self.cells * self.dim * 4)

    def stale(self) -> bool:
        size = max(1, len(self))
        return self.cells > 0 and not (self.trained_on / DRIFT <= size <= self.trained_on * DRIFT)

    def update(self, add_ids: np.ndarray, add_vectors: np.ndarray, remove_ids: np.ndarray) -> None:
        import faiss
        import numpy as np

        if len(remove_ids):
            # The direct map's hash table removes only through an IDSelectorArray (faiss 1.15).
            removed = np.ascontiguousarray(remove_ids, dtype=np.int64)
            self._index.remove_ids(faiss.IDSelectorArray(len(removed), faiss.swig_ptr(removed)))
        if len(add_ids):
            self._index.add_with_ids(
                np.ascontiguousarray(add_vectors, dtype=np.float32), np.asarray(add_ids, dtype=np.int64)
            )

    def search(self, vector: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        import faiss
        import numpy as np

        if len(self) == 0 or count <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        query = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(1, -1))
        # One query: OpenMP threads only contend (measured 70 ms instead of 1 ms on a busy machine).
        with _omp_lock:
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
            try:
                scores, ids = self._index.search(query, min(count, len(self)))
            finally:
                faiss.omp_set_num_threads(threads)
        found = ids[0] >= 0
        ids, scores = ids[0][found], scores[0][found]
        order = np.lexsort((ids, -scores))
        return ids[order].astype(np.int64), scores[order].astype(np.float32)


def build_index(dim: int, ids: np.ndarray, vectors: np.ndarray) -> ExactIndex | FaissIndex:
    """The index for these vectors; exact when their ids collide (two hashes, one 63-bit id)."""
    import numpy as np

    if len(np.unique(ids)) != len(ids):
        return ExactIndex(dim, ids, vectors)
    return FaissIndex(dim, ids, vectors)


__all__ = ["ExactIndex", "FaissIndex", "build_index", "chunk_ids", "require_faiss"]
