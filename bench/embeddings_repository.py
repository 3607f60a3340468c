"""embedding_index on a whole real repository: full embedding time, the vector index, a one-file commit.

    python bench/embeddings_repository.py [--sdist django==5.2.19] [--database NAME] [--keep]

The sdist (PyPI, tests/support/corpora.py) becomes a one-commit git repository. On a Postgres ledger,
one process, the default embedder (ONNX int8 unless WARMER_EMBEDDINGS_* say otherwise):

1. Full embedding: `EmbeddingIndex.generate()` on a fresh vector table: chunks, seconds, chunks/s.
   Issue 12's connect target is <= 5 minutes for all seven connect artifacts of Django (2-process
   worker); this is the embedding part alone, one process.
2. The vector index over every stored vector of that commit (`search.loaded_index`): build seconds,
   search latency p50/p99 for one query (embedding excluded, then included), recall@10 against exact
   search (`ExactIndex`) for natural-language queries and for chunks used as queries. Target >= 0.99.
3. A one-file commit (one function edited): the generator's commit run (chunks embedded vs reused,
   seconds) and the index's update for it (derived from the previous commit's, seconds).

With --database NAME the ledger is that database, kept afterwards (with --keep), so a re-run skips
the embedding (it then reports 0 embedded: every vector is reused).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from tests.support import services  # noqa: E402
from tests.support.corpora import git_repo_of, pypi_sdist  # noqa: E402
from tests.support.extracts import CountingCache, generation_context  # noqa: E402
from tests.support.gitrepo import commit, write  # noqa: E402
from warmer.artifacts.embeddings import EmbeddingIndex, default_embedder, index_of_result  # noqa: E402
from warmer.artifacts.embeddings.search import load_vectors, loaded_index  # noqa: E402
from warmer.artifacts.embeddings.vector_index import ExactIndex, chunk_ids  # noqa: E402
from warmer.ledger import migrate  # noqa: E402
from warmer.ledger.db import Database  # noqa: E402

QUERIES = ROOT / "bench" / "data" / "sqlalchemy_queries.json"  # database questions; Django has an ORM too
DJANGO_QUERIES = [
    "render a template with a context",
    "validate an email address field in a form",
    "middleware that protects against cross site request forgery",
    "resolve a URL path to a view function",
    "run database migrations and detect model changes",
    "hash and check a user's password",
    "paginate a list of objects",
    "send an email with attachments",
    "cache a view's response for some seconds",
    "translate a string into the user's language",
]


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run_generator(repo: Path, db: Database, cache: CountingCache) -> tuple[dict, dict, float]:
    ctx = generation_context(repo, cache=cache)
    ctx.ledger = db
    started = time.perf_counter()
    result = EmbeddingIndex().generate(ctx)
    return index_of_result(result), result.calls, time.perf_counter() - started


def index_figures(db: Database, payload: dict) -> None:
    embedder = default_embedder()
    started = time.perf_counter()
    loaded = loaded_index(db, payload)
    print(f"index: {type(loaded.index).__name__} over {len(loaded.index):,} vectors "
          f"({getattr(loaded.index, 'cells', 0)} cells, nprobe {getattr(loaded.index, 'nprobe', '-')}), "
          f"built in {time.perf_counter() - started:.2f} s (vectors read from the ledger included), "
          f"~{loaded.index.nbytes / 2**20:.0f} MB; {load()}")  # fmt: skip
    hashes = list(dict.fromkeys(c["hash"] for c in payload["chunks"]))
    stored = load_vectors(db, payload["model"], hashes)
    matrix = np.stack([np.frombuffer(stored[h], dtype="<f4") for h in hashes])
    exact = ExactIndex(matrix.shape[1], chunk_ids(hashes), matrix)
    questions = [p["query"] for p in json.loads(QUERIES.read_text())["pairs"]] + DJANGO_QUERIES
    asked = embedder.embed(questions)
    sample = matrix[random.Random(3).sample(range(len(matrix)), 200)]
    for name, queries in (("natural-language", asked), ("chunk-as-query", sample)):
        found, index_ms, exact_ms = 0, [], []
        for query in queries:
            t = time.perf_counter()
            got = loaded.index.search(query, 10)[0]
            index_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            want = exact.search(query, 10)[0]
            exact_ms.append((time.perf_counter() - t) * 1000)
            found += len(set(got.tolist()) & set(want.tolist()))
        recall = found / (10 * len(queries))
        print(f"  {name} queries ({len(queries)}): recall@10 {recall:.4f} (target >= 0.99 "
              f"{'MET' if recall >= 0.99 else 'MISSED'}); index search p50 {statistics.median(index_ms):.2f} ms "
              f"p99 {percentile(index_ms, 0.99):.2f} ms; exact (numpy) p50 {statistics.median(exact_ms):.2f} ms")  # fmt: skip
    from warmer.artifacts.embeddings.search import search_index

    timings = []
    for question in DJANGO_QUERIES * 3:
        t = time.perf_counter()
        search_index(db, payload, question, k=10)
        timings.append((time.perf_counter() - t) * 1000)
    print(f"  search_index end to end (query embedded + index + chunks), warm: p50 "
          f"{statistics.median(timings):.1f} ms, p99 {percentile(timings, 0.99):.1f} ms; {load()}")  # fmt: skip


def one_file_commit(repo: Path, db: Database, cache: CountingCache, before: dict) -> None:
    target = next(p for p in ("django/utils/text.py", "src/django/utils/text.py") if (repo / p).is_file())
    source = (repo / target).read_text()
    edited = source.replace("def capfirst(x):", "def capfirst(x):\n    # edited by the benchmark", 1)
    assert edited != source, f"no capfirst in {target}"
    write(repo, {target: edited})
    commit(repo, "edit one function")
    payload, calls, seconds = run_generator(repo, db, cache)
    print(f"one-file commit ({target}, one function): generator {seconds:.2f} s, calls {calls}; {load()}")
    loaded_index(db, before)
    started = time.perf_counter()
    stats = loaded_index(db, payload).stats
    print(f"  index update for it: {time.perf_counter() - started:.3f} s, {stats}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sdist", default="django==5.2.19")
    parser.add_argument("--database", help="ledger database name (created if missing)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    name, version = args.sdist.split("==")
    work = Path(tempfile.mkdtemp(prefix="warmer-bench-embrepo-"))
    repo = git_repo_of(pypi_sdist(name, version), work / name)
    db_name = args.database or services.create_database()
    if args.database:
        admin = services._admin()
        try:
            cursor = admin.cursor()
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db_name,))
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{db_name}"')
        finally:
            admin.close()
    db = Database(services.database_url(db_name))
    migrate.upgrade(db)
    try:
        embedder = default_embedder()
        print(f"{name} {version}: model {embedder.model_id}, {embedder!r}; {load()}")
        cache = CountingCache()
        payload, calls, seconds = run_generator(repo, db, cache)
        chunks = calls["chunks_embedded"]
        print(f"full embedding: {len(payload['files']):,} files, {len(payload['chunks']):,} chunks, "
              f"{chunks:,} embedded in {seconds:.0f} s = {chunks / seconds:.1f} chunks/s "
              f"({seconds / 60:.1f} min); calls {calls}; {load()}")  # fmt: skip
        index_figures(db, payload)
        one_file_commit(repo, db, cache, payload)
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; {load()}")
    finally:
        db.dispose()
        if not args.keep:
            services.drop_database(db_name)


if __name__ == "__main__":
    main()
