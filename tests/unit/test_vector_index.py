"""The vector index against exact search on real chunk vectors, and its update by a commit's changes.

The vectors are click's source (every file, chunked as the generator chunks it) through the default
embedder; the oracle is `ExactIndex`, a matrix product over every vector. The inverted-file index is
made to scan half of its cells, so it is approximate here and its recall is what is measured (the
production settings are measured on Django's 65K vectors by bench/embeddings_repository.py).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import click
import numpy as np
import pytest

from tests.support.extracts import CountingCache, generation_context
from tests.support.gitrepo import commit, make_repo, write
from warmer.artifacts.embeddings import EmbeddingIndex, index_of_result
from warmer.artifacts.embeddings import search as search_module
from warmer.artifacts.embeddings.chunks import chunk_file, chunk_hash, chunk_kind
from warmer.artifacts.embeddings.models import Embedder, embedder_from_env
from warmer.artifacts.embeddings.search import clear_cache, load_vectors, loaded_index, search_index
from warmer.artifacts.embeddings.vector_index import ExactIndex, FaissIndex, build_index, chunk_ids
from warmer.ledger.db import Database

K = 10


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return embedder_from_env({})


@pytest.fixture(scope="module")
def click_source() -> dict[str, str]:
    root = Path(click.__file__).parent
    return {f"click/{p.relative_to(root)}": p.read_text() for p in sorted(root.glob("*.py"))}


@pytest.fixture(scope="module")
def corpus(click_source: dict[str, str], embedder: Embedder) -> tuple[list[str], np.ndarray]:
    texts: dict[str, None] = {}
    for path, source in click_source.items():
        texts.update(
            dict.fromkeys(c.text for c in chunk_file(chunk_kind(path) or "", source.encode(), 10**6)[1])
        )
    distinct = list(texts)
    return distinct, embedder.embed(distinct)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


def recall(approximate: FaissIndex, exact: ExactIndex, queries: np.ndarray) -> float:
    found = 0
    for query in queries:
        expected = set(exact.search(query, K)[0].tolist())
        found += len(expected & set(approximate.search(query, K)[0].tolist()))
    return found / (K * len(queries))


def queries_from(vectors: np.ndarray, embedder: Embedder) -> np.ndarray:
    """Natural-language questions plus chunks as queries ("code like this")."""
    asked = embedder.embed(
        [
            "print a help page for a command line option",
            "prompt the user for a value and confirm it",
            "convert a parameter value to an integer within a range",
            "open a file lazily and close it when the context ends",
            "detect whether the terminal supports colors",
            "group several commands under one entry point",
            "show a progress bar while iterating",
            "raise an error for a missing required parameter",
        ]
    )
    sample = vectors[random.Random(3).sample(range(len(vectors)), 120)]
    return np.concatenate([asked, sample])


def test_inverted_file_index_recall_against_exact(
    corpus: tuple[list[str], np.ndarray], embedder: Embedder
) -> None:
    texts, vectors = corpus
    assert len(texts) > 500
    ids = chunk_ids([chunk_hash(t) for t in texts])
    index = FaissIndex(384, ids, vectors, flat_max=0, vectors_per_cell=64, nprobe=8)
    assert index.cells == 16 and len(index) == len(texts)  # approximate: 8 of the 16 cells per query
    exact = ExactIndex(384, ids, vectors)
    # Half the cells is harsher than production (NPROBE of ~1,000 cells on Django): measured 0.977
    # here with the int8 ONNX vectors; the bar is the issue's ≥ 0.95.
    assert recall(index, exact, queries_from(vectors, embedder)) >= 0.95
    got_ids, got_scores = index.search(vectors[0], K)
    assert got_ids[0] == ids[0] and got_scores[0] == pytest.approx(1.0, abs=1e-5)
    assert list(got_scores) == sorted(got_scores, reverse=True)


def test_an_updated_index_answers_like_a_fresh_one(
    corpus: tuple[list[str], np.ndarray], embedder: Embedder
) -> None:
    """Remove 40 vectors and add 40 others, as a commit would: exact on the new set is the oracle."""
    texts, vectors = corpus
    ids = chunk_ids([chunk_hash(t) for t in texts])
    before = list(range(0, len(texts) - 40))
    gone, new = before[:40], list(range(len(texts) - 40, len(texts)))
    after = before[40:] + new
    index = FaissIndex(384, ids[before], vectors[before], flat_max=0, vectors_per_cell=64, nprobe=8)
    index.update(ids[new], vectors[new], ids[gone])
    assert len(index) == len(after)
    exact = ExactIndex(384, ids[after], vectors[after])
    queries = queries_from(vectors, embedder)
    assert recall(index, exact, queries) >= 0.95  # half the cells, as above
    removed = set(ids[gone].tolist())
    assert not any(removed & set(index.search(q, K)[0].tolist()) for q in queries)
    assert index.search(vectors[new[0]], 1)[0][0] == ids[new[0]]  # an added vector is found


def test_colliding_ids_fall_back_to_exact_search() -> None:
    vectors = np.eye(4, 384, dtype=np.float32)
    ids = np.array([5, 5, 6, 7], dtype=np.int64)  # two texts, one 63-bit id
    assert isinstance(build_index(384, ids, vectors), ExactIndex)
    assert isinstance(build_index(384, np.arange(4, dtype=np.int64), vectors), FaissIndex)
    assert chunk_ids(["f" * 64])[0] == 0x7FFF_FFFF_FFFF_FFFF  # the top bit is cleared: ids stay int64


def test_a_commit_updates_the_loaded_index_by_its_change(
    sqlite_db: Database, tmp_path: Path, click_source: dict[str, str], embedder: Embedder
) -> None:
    """Search after a one-function commit: the index is derived (1 vector out, 1 in), not rebuilt,
    and its answers are those of exact search over the new commit's vectors."""
    repo = make_repo(tmp_path / "click", click_source)
    cache = CountingCache()

    def build() -> dict:
        ctx = generation_context(repo, cache=cache)
        ctx.ledger = sqlite_db
        return index_of_result(EmbeddingIndex(embedder).generate(ctx))

    first = build()
    question = "wrap a long paragraph of text so its lines fit a given width"
    search_index(sqlite_db, first, question, k=5)
    assert loaded_index(sqlite_db, first).stats["built"] == len({c["hash"] for c in first["chunks"]})

    source = click_source["click/formatting.py"]
    edited = source.replace("widths: dict[int, int] = {}", "widths: dict[int, int] = {}  # column -> width")
    assert edited != source
    write(repo, {"click/formatting.py": edited})
    commit(repo, "comment measure_table")
    second = build()
    hits = search_index(sqlite_db, second, question, k=5)
    stats = loaded_index(sqlite_db, second).stats
    assert (stats.get("derived_from"), stats.get("added"), stats.get("removed")) == (first["tree"], 1, 1)
    assert len(search_module._loaded) == 1  # the first commit's index was taken over, not copied

    # Oracle: every chunk of the second commit scored exactly.
    hashes = [c["hash"] for c in second["chunks"]]
    stored = load_vectors(sqlite_db, second["model"], hashes)
    matrix = np.stack([np.frombuffer(stored[h], dtype="<f4") for h in hashes])
    scores = matrix @ embedder.embed([question])[0]
    best = np.argsort(-scores, kind="stable")[:5]
    assert [(h["path"], h["start_line"]) for h in hits] == [
        (second["chunks"][i]["path"], second["chunks"][i]["start_line"]) for i in best
    ]
    assert [h["score"] for h in hits] == pytest.approx([float(scores[i]) for i in best], abs=1e-5)
    assert "measure_table" in [
        h["symbol"] for h in search_index(sqlite_db, second, "measure column widths", k=5)
    ]


def test_loaded_indexes_are_bounded_by_bytes(
    monkeypatch: pytest.MonkeyPatch, sqlite_db: Database, tmp_path: Path, embedder: Embedder
) -> None:
    monkeypatch.setattr(search_module, "DERIVE_MIN", 0)  # every index built on its own
    monkeypatch.setattr(search_module, "DERIVE_MAX_SHARE", 0.0)
    payloads = []
    for name in ("one", "two", "three"):
        repo = make_repo(
            tmp_path / name, {f"{name}.py": f"def {name}_function(x):\n    return x * {len(name)}\n"}
        )
        ctx = generation_context(repo)
        ctx.ledger = sqlite_db
        payloads.append(index_of_result(EmbeddingIndex(embedder).generate(ctx)))
    for payload in payloads:
        search_index(sqlite_db, payload, "a function", k=1)
    assert len(search_module._loaded) == 3
    clear_cache()
    monkeypatch.setenv("WARMER_SEARCH_CACHE_MB", "0.001")  # ~1 KB: one small index at a time
    for payload in payloads:
        search_index(sqlite_db, payload, "a function", k=1)
    assert len(search_module._loaded) == 1
    assert search_index(sqlite_db, payloads[0], "a function", k=1)[0]["path"] == "one.py"
