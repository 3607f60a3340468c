"""embedding_index speed and quality: ONNX Runtime against the bare torch model, same texts, same run.

    python bench/embeddings.py [--rounds 1] [--limit N] [--sweep] [--sqlite] [--skip-generator]

Corpus: the sqlalchemy 2.1.9 sdist from PyPI (tests/support/corpora.py), lib/sqlalchemy's engine, pool,
event, ext, orm, util, connectors, dialects/sqlite and top-level modules (~9,600 distinct chunks, as the
generator chunks them). In one process, models loaded and warmed up before any clock starts:

1. Throughput: every text through the bare torch model (`SentenceTransformer.encode`, batch 16) and
   the ONNX encoders (int8 and fp32, `OnnxSentenceEncoder.embed`), interleaved part by part so machine
   noise hits all of them. Target: ONNX int8 >= 3x torch chunks/s.
2. Agreement: per-chunk cosine between each ONNX vector and torch's. Target: mean >= 0.99.
3. Retrieval: bench/data/sqlalchemy_queries.json (natural-language query -> the files that answer it,
   written by reading this sdist): recall@5 = queries with an answering file among the top-5 chunks'
   files, each runtime searching its own vectors exactly. Target: ONNX within 2 points of torch.
4. Generator: `EmbeddingIndex.generate()` with the default embedder on the ext/pool/event/connectors
   slice, fresh vector table, chunks/s of its wall time against the bare ONNX encoder on the same
   texts (target >= 0.8), then a re-run on the same commit (0 embedded).
5. --sweep: ONNX int8 chunks/s per batch size and thread count on a sample (how the defaults were chosen).

Load average is printed beside every figure: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from tests.support.corpora import pypi_sdist  # noqa: E402
from tests.support.extracts import CountingCache, generation_context  # noqa: E402
from tests.support.gitrepo import make_repo  # noqa: E402
from warmer.artifacts.embeddings import EmbeddingIndex  # noqa: E402
from warmer.artifacts.embeddings.chunks import chunk_file, chunk_kind  # noqa: E402
from warmer.artifacts.embeddings.models import LocalSentenceTransformer  # noqa: E402
from warmer.artifacts.embeddings.onnx_model import OnnxSentenceEncoder  # noqa: E402
from warmer.ledger import migrate  # noqa: E402
from warmer.ledger.db import Database  # noqa: E402

SDIST = ("sqlalchemy", "2.1.9")
RETRIEVAL_DIRS = ["engine", "pool", "event", "ext", "orm", "util", "connectors", "dialects/sqlite"]
SLICE_DIRS = ["ext", "pool", "event", "connectors"]
QUERIES = ROOT / "bench" / "data" / "sqlalchemy_queries.json"
K = 5


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def corpus_files(dirs: list[str], top_level: bool) -> dict[str, bytes]:
    root = pypi_sdist(*SDIST)
    lib = root / "lib" / "sqlalchemy"
    files: dict[str, bytes] = {}
    paths = [p for d in dirs for p in sorted((lib / d).rglob("*"))]
    if top_level:
        paths += sorted(lib.glob("*.py"))
    for path in paths:
        if path.is_file() and "__pycache__" not in path.parts:
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def chunk_table(files: dict[str, bytes]) -> tuple[list[str], list[str]]:
    """Every chunk as (path, text), and the distinct texts the generator would embed."""
    paths, texts = [], []
    for path, data in files.items():
        kind = chunk_kind(path)
        if kind is not None:
            for chunk in chunk_file(kind, data, 1_000_000)[1]:
                paths.append(path)
                texts.append(chunk.text)
    return paths, texts


class Torch:
    """The bare sentence-transformers model: the reference everything is compared with."""

    name = "torch-fp32"

    def __init__(self) -> None:
        self.encoder = LocalSentenceTransformer()
        self.model = self.encoder.model()

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts, batch_size=self.encoder.batch_size, convert_to_numpy=True, normalize_embeddings=True
        )
        return np.asarray(vectors, dtype=np.float32)


class Onnx:
    def __init__(self, precision: str, **kwargs: int) -> None:
        self.encoder = OnnxSentenceEncoder(precision=precision, **kwargs)
        self.name = f"onnx-{precision}"

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.encoder.embed(texts)


def interleaved(
    runners: list, texts: list[str], parts: int
) -> tuple[dict[str, float], dict[str, np.ndarray]]:  # type: ignore[type-arg]
    """Embed all texts with every runner, part by part; chunks/s per runner and its vectors in order."""
    order = list(range(len(texts)))
    random.Random(7).shuffle(order)  # each part gets the same mix of lengths
    seconds = {r.name: 0.0 for r in runners}
    vectors = {r.name: np.zeros((len(texts), 384), np.float32) for r in runners}
    for p in range(parts):
        rows = order[p::parts]
        batch = [texts[i] for i in rows]
        for runner in runners:
            started = time.perf_counter()
            vectors[runner.name][rows] = runner.embed(batch)
            seconds[runner.name] += time.perf_counter() - started
        print(
            f"  part {p + 1}/{parts}: "
            + ", ".join(f"{n} {seconds[n]:.0f} s" for n in seconds)
            + f"  {load()}"
        )
    return {n: len(texts) / s for n, s in seconds.items()}, vectors


def recall_at_k(
    runner: Callable[[list[str]], np.ndarray], matrix: np.ndarray, paths: list[str], pairs: list[dict]
) -> tuple[float, list[str]]:
    """Share of queries answered in the top-K chunks (exact search), and the queries missed."""
    queries = runner([p["query"] for p in pairs])
    scores = queries @ matrix.T
    missed = []
    for pair, row in zip(pairs, scores, strict=True):
        top = np.argsort(-row, kind="stable")[:K]
        if not set(pair["files"]) & {paths[i] for i in top}:
            missed.append(pair["query"])
    return 1 - len(missed) / len(pairs), missed


def quality_and_speed(args: argparse.Namespace) -> None:
    files = corpus_files(RETRIEVAL_DIRS, top_level=True)
    chunk_paths, chunk_texts = chunk_table(files)
    distinct = list(dict.fromkeys(chunk_texts))
    timed = distinct if args.limit is None else random.Random(3).sample(distinct, args.limit)
    pairs = json.loads(QUERIES.read_text())["pairs"]
    lines = sum(len(d.splitlines()) for d in files.values())
    print(f"corpus: {SDIST[0]} {SDIST[1]} sdist, lib/sqlalchemy/{{{','.join(RETRIEVAL_DIRS)}}} + top level: "
          f"{len(files)} files, {lines:,} lines, {len(chunk_texts):,} chunks, {len(distinct):,} distinct")  # fmt: skip
    runners = [Torch(), Onnx("int8"), Onnx("fp32")]
    for runner in runners:
        runner.embed(distinct[:32])  # load, export if needed, first-call allocations: off the clock
    print(f"threads: torch {runners[0].encoder.threads}, onnx {runners[1].encoder.threads}; "
          f"batch: torch {runners[0].encoder.batch_size}, onnx {runners[1].encoder.batch_size}; {load()}")  # fmt: skip
    rates, vectors = interleaved(runners, timed, parts=args.parts)
    torch_rate = rates["torch-fp32"]
    print(f"\nthroughput on {len(timed):,} chunk texts ({load()}):")
    for name, rate in rates.items():
        print(f"  {name:11s} {rate:7.1f} chunks/s  x{rate / torch_rate:.2f} torch")
    ratio = rates["onnx-int8"] / torch_rate
    print(f"  target onnx-int8 >= 3x torch: x{ratio:.2f} {'MET' if ratio >= 3 else 'MISSED'}")
    print("agreement with torch (cosine per chunk):")
    for name in ("onnx-int8", "onnx-fp32"):
        cos = (vectors[name] * vectors["torch-fp32"]).sum(axis=1)
        verdict = "MET" if cos.mean() >= 0.99 else "MISSED"
        print(f"  {name}: mean {cos.mean():.4f}, min {cos.min():.4f}, p1 {np.percentile(cos, 1):.4f}"
              f"  target mean >= 0.99 {verdict}")  # fmt: skip
    if args.limit is not None:
        print("retrieval skipped: --limit embeds only a sample of the corpus")
        return
    row_of = {t: i for i, t in enumerate(timed)}
    rows = [row_of[t] for t in chunk_texts]
    print(f"retrieval: {len(pairs)} queries, recall@{K} over {len(chunk_texts):,} chunks (exact search):")
    recalls = {}
    for runner in runners:
        recalls[runner.name], missed = recall_at_k(
            runner.embed, vectors[runner.name][rows], chunk_paths, pairs
        )
        print(f"  {runner.name:11s} recall@{K} {recalls[runner.name]:.3f}  missed: {missed}")
    gap = (recalls["torch-fp32"] - recalls["onnx-int8"]) * 100
    print(f"  target onnx-int8 within 2 points of torch: {gap:+.1f} points {'MET' if gap <= 2 else 'MISSED'}")


def sweep(args: argparse.Namespace) -> None:
    """ONNX int8 chunks/s by batch size and threads, interleaved rounds on one sample."""
    _, texts = chunk_table(corpus_files(SLICE_DIRS, top_level=False))
    sample = random.Random(5).sample(list(dict.fromkeys(texts)), min(args.sweep_sample, len(texts)))
    configs = [(b, t) for t in (1, 2) for b in (1, 4, 8, 16, 32, 64)]
    encoders = {c: OnnxSentenceEncoder(precision="int8", batch_size=c[0], threads=c[1]) for c in configs}
    for encoder in encoders.values():
        encoder.embed(sample[:8])
    rates: dict[tuple[int, int], list[float]] = {c: [] for c in configs}
    for _ in range(args.rounds):
        for config, encoder in encoders.items():
            started = time.perf_counter()
            encoder.embed(sample)
            rates[config].append(len(sample) / (time.perf_counter() - started))
    print(f"\nsweep, onnx-int8 on {len(sample)} chunk texts, median of {args.rounds} rounds ({load()}):")
    for (batch, threads), values in rates.items():
        print(f"  threads {threads} batch {batch:3d}: {statistics.median(values):6.1f} chunks/s "
              f"{[round(v, 1) for v in values]}")  # fmt: skip


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


def generator(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="warmer-bench-embeddings-"))
    files = corpus_files(SLICE_DIRS, top_level=False)
    repo = make_repo(work / "sqlalchemy-slice", files)
    texts = list(dict.fromkeys(chunk_table(files)[1]))
    bare = Onnx("int8")
    bare.embed(texts[:32])
    db, pg_name = open_ledger(args.sqlite, work)
    try:
        started = time.perf_counter()
        bare.embed(texts)
        bare_rate = len(texts) / (time.perf_counter() - started)
        cache = CountingCache()
        ctx = generation_context(repo, cache=cache)
        ctx.ledger = db
        started = time.perf_counter()
        first = EmbeddingIndex(bare.encoder).generate(ctx)
        seconds = time.perf_counter() - started
        embedded = first.calls["chunks_embedded"]
        assert embedded == len(texts), f"generator embedded {embedded}, the chunker gives {len(texts)}"
        ratio = embedded / seconds / bare_rate
        print(f"\ngenerator on sqlalchemy/{{{','.join(SLICE_DIRS)}}} ({len(files)} files), "
              f"{'SQLite' if args.sqlite else 'Postgres'} ledger, {load()}:")  # fmt: skip
        print(f"  bare onnx-int8 {bare_rate:.1f} chunks/s; generator {embedded / seconds:.1f} chunks/s "
              f"({embedded} in {seconds:.1f} s, calls {first.calls})")  # fmt: skip
        print(
            f"  ratio {ratio:.2f}  target generator >= 0.8 x bare model  {'MET' if ratio >= 0.8 else 'MISSED'}"
        )
        ctx = generation_context(repo, cache=cache)
        ctx.ledger = db
        started = time.perf_counter()
        again = EmbeddingIndex(bare.encoder).generate(ctx)
        print(f"  re-run same commit: {again.calls['chunks_embedded']} embedded, "
              f"{again.calls['chunks_reused']} reused, {time.perf_counter() - started:.2f} s")  # fmt: skip
    finally:
        db.dispose()
        if pg_name is not None:
            from tests.support import services

            services.drop_database(pg_name)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parts", type=int, default=8, help="interleaving parts for the throughput run")
    parser.add_argument("--limit", type=int, help="time only this many texts (skips the retrieval check)")
    parser.add_argument("--sweep", action="store_true", help="also sweep ONNX batch sizes and threads")
    parser.add_argument("--sweep-sample", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2, help="rounds per sweep configuration")
    parser.add_argument("--sqlite", action="store_true", help="SQLite ledger for the generator run")
    parser.add_argument("--skip-generator", action="store_true")
    args = parser.parse_args()
    quality_and_speed(args)
    if not args.skip_generator:
        generator(args)
    if args.sweep:
        sweep(args)
    print(f"\npeak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; {load()}")


if __name__ == "__main__":
    main()
