"""embedding_index throughput: the generator end to end against the bare model on the same chunks.

    python bench/embeddings.py [--rounds 2] [--dirs ext,pool,event,connectors] [--sqlite]

The corpus is a slice of the installed sqlalchemy source (by default ext/, pool/, event/ and
connectors/: ~2,000 chunks) made into a git repository. The chunk texts are those the generator
embeds (same chunker, deduplicated). In one process, with the model loaded once:

- bare model: `SentenceTransformer.encode` on exactly those texts, same batch size, chunks/s (median
  of the rounds; the rounds are interleaved with the generator run so machine noise hits both);
- generator: `EmbeddingIndex.generate()` on a fresh vector table, chunks embedded per second of its
  wall time (git reads, tree-sitter, chunking, hashing, vector look-ups and inserts included);
- re-run on the same commit (extract cache warm, vectors stored): chunks embedded (0) and its time;
- peak RSS of the process.

Target: generator >= 0.8 x bare model.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import sqlalchemy  # noqa: E402

from tests.support.extracts import CountingCache, generation_context  # noqa: E402
from tests.support.gitrepo import make_repo  # noqa: E402
from warmer.artifacts.embeddings import EmbeddingIndex  # noqa: E402
from warmer.artifacts.embeddings.chunks import chunk_file, chunk_kind  # noqa: E402
from warmer.artifacts.embeddings.models import LocalSentenceTransformer  # noqa: E402
from warmer.ledger import migrate  # noqa: E402
from warmer.ledger.db import Database  # noqa: E402


def corpus_files(dirs: list[str]) -> dict[str, bytes]:
    source = Path(sqlalchemy.__file__).parent
    files: dict[str, bytes] = {}
    for name in dirs:
        for path in sorted((source / name).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[f"sqlalchemy/{path.relative_to(source)}"] = path.read_bytes()
    return files


def chunk_texts(files: dict[str, bytes]) -> list[str]:
    """The distinct texts the generator will embed, as the generator chunks them."""
    texts: dict[str, None] = {}
    for path, data in files.items():
        kind = chunk_kind(path)
        if kind is not None:
            texts.update(dict.fromkeys(c.text for c in chunk_file(kind, data, 1_000_000)[1]))
    return list(texts)


def bare_round(model: object, texts: list[str], batch_size: int) -> float:
    started = time.perf_counter()
    model.encode(texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True)  # type: ignore[attr-defined]
    return len(texts) / (time.perf_counter() - started)


def open_ledger(use_sqlite: bool, work: Path) -> tuple[Database, str | None]:
    if use_sqlite:
        db = Database(f"sqlite:///{work / 'ledger.db'}")
        migrate.upgrade(db)
        return db, None
    from tests.support import services

    name = services.create_database()
    db = Database(services.database_url(name))
    migrate.upgrade(db)
    return db, name


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2, help="bare-model rounds (median)")
    parser.add_argument("--dirs", default="ext,pool,event,connectors", help="sqlalchemy subpackages")
    parser.add_argument("--sqlite", action="store_true", help="SQLite ledger instead of Postgres")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="warmer-bench-embeddings-"))
    files = corpus_files(args.dirs.split(","))
    repo = make_repo(work / "sqlalchemy-slice", files)
    texts = chunk_texts(files)
    lines = sum(len(data.splitlines()) for data in files.values())
    embedder = LocalSentenceTransformer()
    model = embedder.model()
    model.encode(
        texts[:64], batch_size=embedder.batch_size
    )  # warm-up: first-call allocations, not throughput
    print(
        f"corpus: sqlalchemy/{{{args.dirs}}} ({len(files)} files, {lines:,} lines), {len(texts)} distinct chunks"
    )
    print(f"model: {embedder.model_id}, batch size {embedder.batch_size}, torch threads {_threads()}")

    db, pg_name = open_ledger(args.sqlite, work)
    try:
        bare: list[float] = [bare_round(model, texts, embedder.batch_size)]
        cache = CountingCache()
        ctx = generation_context(repo, cache=cache)
        ctx.ledger = db
        started = time.perf_counter()
        first = EmbeddingIndex(embedder).generate(ctx)
        generate_secs = time.perf_counter() - started
        bare += [bare_round(model, texts, embedder.batch_size) for _ in range(max(1, args.rounds - 1))]

        embedded = first.calls["chunks_embedded"]
        assert embedded == len(texts), f"generator embedded {embedded}, the chunker gives {len(texts)}"
        bare_rate = statistics.median(bare)
        generator_rate = embedded / generate_secs
        ratio = generator_rate / bare_rate
        print(f"bare model:  {bare_rate:.2f} chunks/s (median of {[round(b, 2) for b in bare]})")
        print(f"generator:   {generator_rate:.2f} chunks/s ({embedded} chunks embedded in {generate_secs:.1f} s, "
              f"calls {first.calls})")  # fmt: skip
        print(
            f"ratio {ratio:.3f}   target generator >= 0.8 x bare model   {'MET' if ratio >= 0.8 else 'MISSED'}"
        )

        ctx = generation_context(repo, cache=cache)
        ctx.ledger = db
        started = time.perf_counter()
        again = EmbeddingIndex(embedder).generate(ctx)
        print(f"re-run same commit: {again.calls['chunks_embedded']} chunks embedded, "
              f"{again.calls['chunks_reused']} reused, {time.perf_counter() - started:.2f} s")  # fmt: skip
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {peak:.0f} MB")
    finally:
        db.dispose()
        if pg_name is not None:
            from tests.support import services

            services.drop_database(pg_name)
        shutil.rmtree(work, ignore_errors=True)


def _threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    main()
