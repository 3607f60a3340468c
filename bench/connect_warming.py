"""Connect warming: every connect artifact of a ≥200K-line real corpus, by a real worker with 2 processes.

    python bench/connect_warming.py [--rounds 3] [--with-embeddings]

The corpus is the installed sqlalchemy package's source made into a git repository (~254K lines of
Python). Each round starts from an empty ledger (a fresh Postgres database: no extract or vector is
cached) and a real `celery -A warmer worker --concurrency 2` on Redis; the clock runs from `connect`
(mirror, plan, publish) to the moment the last job is completed in the ledger. Printed per round:
wall time, each artifact's run time from the ledger, and the peak RSS of each worker process
(VmHWM of the pool children, which ran the generators).

Target (issue 4): under 60 s for every connect artifact but embeddings; the product page's own
figure for a baseline is 5-15 minutes. With --with-embeddings, a last round also runs embedding_index
and reports its chunks/s beside the bare model's chunks/s on the same chunk texts, measured in this
run (target: ≥ 0.8 of the bare model).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from tests.support import services  # noqa: E402
from tests.support.gitrepo import repo_from_tree  # noqa: E402
from warmer.ledger import migrate  # noqa: E402
from warmer.ledger.db import Database  # noqa: E402
from warmer.ledger.models import EmbeddingVector, Job, JobStatus  # noqa: E402
from warmer.publisher import publish  # noqa: E402
from warmer.settings import ALL_CONNECT_ARTIFACTS, load_settings  # noqa: E402
from warmer.triggers.connect import connect  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/13"
CORPUS = "sqlalchemy"
WITHOUT_EMBEDDINGS = [a for a in ALL_CONNECT_ARTIFACTS if a != "embedding_index"]


def lines_of(path: Path) -> int:
    """Lines of the files the repository holds (repo_from_tree leaves __pycache__ out)."""
    return sum(
        len(p.read_bytes().splitlines())
        for p in path.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )


def peak_rss_mb(pid: int) -> dict[int, float]:
    """VmHWM (peak resident set) of a process and its children, in MB."""
    found: dict[int, float] = {}
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [pid] + ([int(p) for p in children.read_text().split()] if children.exists() else [])
    for each in pids:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except FileNotFoundError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                found[each] = int(line.split()[1]) / 1024
    return found


def warm_round(work: Path, repo: Path, artifacts: list[str], label: str) -> dict[str, object]:
    db_name = services.create_database()
    db = Database(services.database_url(db_name))
    services.flush_redis(REDIS_URL)
    config = work / f"{label}.yaml"
    config.write_text(
        f"engineering_cache:\n  warmers:\n    on_connect:\n      artifacts: [{', '.join(artifacts)}]\n"
    )
    env = {
        "DATABASE_URL": db.url, "CELERY_BROKER_URL": REDIS_URL, "WARMER_CONFIG": str(config),
        "WARMER_DATA_DIR": str(work / f"data-{label}"), "KEEPTRUSTS_CACHE_WARMER_HEALTH_PORT": "0",
        "KEEPTRUSTS_CACHE_WARMER_CONCURRENCY": "2",
    }  # fmt: skip
    worker = services.Worker(label, env, work, concurrency=2)
    try:
        migrate.upgrade(db)
        settings = load_settings(env)
        worker.start()
        from warmer.celery_app import app

        app.conf.broker_url = REDIS_URL
        started = time.perf_counter()
        done = connect(db, settings, str(repo), name=CORPUS, branch="main")
        assert done.planned is not None
        publish(app, db, [(j.job_id, j.trigger, j.priority) for j in done.planned.created])
        ids = [j.job_id for j in done.planned.created]
        while True:
            with db.session() as session:
                rows = session.execute(select(Job).where(Job.id.in_(ids))).scalars().all()
                session.expunge_all()
            if all(r.status in (JobStatus.COMPLETED, JobStatus.FAILED) for r in rows):
                break
            time.sleep(0.05)
        wall = time.perf_counter() - started
        failed = [f"{r.artifact_type}: {r.error}" for r in rows if r.status == JobStatus.FAILED]
        assert not failed, failed
        per_artifact = {
            r.artifact_type: (r.finished_at - r.started_at).total_seconds() for r in rows if r.started_at
        }
        memory = peak_rss_mb(worker.pid)
        with db.session() as session:
            vectors = session.scalar(select(func.count()).select_from(EmbeddingVector))
        return {"wall": wall, "per_artifact": per_artifact, "memory": memory, "vectors": vectors}
    finally:
        worker.stop()
        db.dispose()
        services.drop_database(db_name)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--with-embeddings", action="store_true")
    args = parser.parse_args()
    work = Path(os.environ.get("BENCH_DIR", "/tmp/warmer-bench-connect"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    source = Path(__import__(CORPUS).__file__).parent
    repo = repo_from_tree(source, work / "repo")
    print(f"corpus: {CORPUS} ({lines_of(source):,} lines, {sum(1 for _ in source.rglob('*.py'))} .py files); "
          f"worker: celery -A warmer worker --concurrency 2 on {REDIS_URL}, ledger on Postgres")  # fmt: skip
    walls = []
    for round_no in range(args.rounds):
        result = warm_round(work, repo, WITHOUT_EMBEDDINGS, f"r{round_no}")
        walls.append(result["wall"])
        timings = ", ".join(
            f"{k} {v:.1f}s" for k, v in sorted(result["per_artifact"].items(), key=lambda kv: -kv[1])
        )
        memory = ", ".join(f"{mb:.0f}" for mb in result["memory"].values())
        print(
            f"round {round_no + 1}: {result['wall']:.1f} s wall ({timings}); peak RSS MB main/children: {memory}"
        )
    median = statistics.median(walls)
    print(f"\nconnect warming, all but embeddings: median {median:.1f} s over {len(walls)} rounds  "
          f"target < 60 s {'MET' if median < 60 else 'MISSED'}; the product page's figure: 5-15 min "
          f"(x{300 / median:.0f}-x{900 / median:.0f} faster)")  # fmt: skip
    if args.with_embeddings:
        embeddings_round(work, repo)


def embeddings_round(work: Path, repo: Path, sample: int = 512) -> None:
    """embedding_index in the worker, against the bare model on a sample of the same chunk texts."""
    import random

    from warmer.artifacts.embeddings.chunks import chunk_file, chunk_kind
    from warmer.artifacts.embeddings.models import LocalSentenceTransformer

    result = warm_round(work, repo, ["embedding_index"], "emb")
    seconds, chunks = result["per_artifact"]["embedding_index"], result["vectors"]
    worker_rate = chunks / seconds
    texts = []
    for path in sorted(p for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts):
        kind = chunk_kind(str(path.relative_to(repo)))
        if kind:
            texts += [c.text for c in chunk_file(kind, path.read_bytes(), 1_000_000)[1]]
    texts = random.Random(7).sample(sorted(set(texts)), min(sample, len(set(texts))))
    model = LocalSentenceTransformer()
    model.embed(texts[:8])  # load and warm up outside the clock
    rates = []
    for _ in range(3):
        started = time.perf_counter()
        model.embed(texts)
        rates.append(len(texts) / (time.perf_counter() - started))
    bare = statistics.median(rates)
    print(f"embedding_index in the worker: {chunks:,} chunks in {seconds:.1f} s = {worker_rate:.1f} chunks/s; "
          f"bare model on {len(texts)} of the same chunk texts: median {bare:.1f} chunks/s "
          f"{[round(r, 1) for r in rates]}; ratio {worker_rate / bare:.2f}  target >= 0.8 "
          f"{'MET' if worker_rate / bare >= 0.8 else 'MISSED'}; worker peak RSS MB "
          f"{', '.join(f'{mb:.0f}' for mb in result['memory'].values())}")  # fmt: skip


if __name__ == "__main__":
    main()
