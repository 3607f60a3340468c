"""Commit refresh: time from a push to fresh cache entries, on a large and a small real corpus.

    python bench/commit_refresh.py [--rounds 5]

Each corpus is an installed package's source made into a git repository:
sqlalchemy (~254K lines) and sortedcontainers (~4.3K lines). Both are connected
and warmed once (that fills the per-blob extract caches, as in production).
Then, per round, one file gets a new function and is committed; the clock runs
from `record` (the commit trigger: fetch, debounce window closed at once) through
planning (tree diff, artifact selection) and running every planned job with the
in-process runner, to the moment the new entries are served; after each round every
whole-repository artifact (embedding_index included) must be served at the new head, not stale. The Celery hop is
left out (one message per job; see ledger_throughput.py for that cost). The tree diff
alone is compared with `git diff-tree -r` on the same trees.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dulwich.repo import Repo  # noqa: E402
from sqlalchemy import select  # noqa: E402

from tests.support import services  # noqa: E402
from tests.support.gitrepo import commit, git, repo_from_tree  # noqa: E402
from warmer.artifacts import registry  # noqa: E402
from warmer.cache.lookup import lookup  # noqa: E402
from warmer.git.diff import tree_diff  # noqa: E402
from warmer.ledger import migrate  # noqa: E402
from warmer.ledger.db import Database  # noqa: E402
from warmer.ledger.models import Job  # noqa: E402
from warmer.settings import load_settings  # noqa: E402
from warmer.triggers import commit as commit_trigger  # noqa: E402
from warmer.triggers.connect import connect  # noqa: E402
from warmer.worker.inline import run_jobs  # noqa: E402

CORPORA = {"large": "sqlalchemy", "small": "sortedcontainers"}
# Served at path "" (symbol_index's manifest among them); checked fresh after every round.
WHOLE = ["repo_map", "symbol_index", "dependency_graph", "test_map", "api_inventory", "embedding_index",
         "recent_change_summary"]  # fmt: skip
# Files of the same size (2,646 and 2,642 lines): what a change costs depends on the file changed;
# the question is whether it also depends on the size of the repository around it.
EDITED = {"large": "sqlalchemy/engine/default.py", "small": "sortedcontainers/sortedlist.py"}


def package_dir(name: str) -> Path:
    module = __import__(name)
    return Path(module.__file__).parent


def lines_of(path: Path) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in path.rglob("*.py"))


def refresh_once(
    db: Database, settings: object, name: str, repo: Path, round_no: int
) -> tuple[float, list[str]]:
    target = repo / EDITED[name]
    with target.open("a") as handle:
        handle.write(f"\n\ndef _bench_added_{round_no}():\n    return {round_no}\n")
    head = commit(repo, f"bench edit {round_no}")
    started = time.perf_counter()
    commit_trigger.record(db, settings, name, sha=head, branch="main", source="bench")  # type: ignore[arg-type]
    planned = commit_trigger.plan_due(db, settings, actor="bench")  # type: ignore[arg-type]
    jobs = [job.job_id for p in planned for job in p.jobs if job.created]
    counts: dict[int, dict[str, int]] = {}
    run_jobs(
        db, settings, jobs, "bench", lambda report: counts.__setitem__(report.job_id, report.calls or {})
    )  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    summary = lookup(db, name, "file_summary", task_type="bench", path=EDITED[name])
    assert summary.hit and summary.commit == head, "the file's summary was not refreshed"
    # Every whole-repository artifact the branch serves is at the new head, none stale.
    for artifact in WHOLE:
        found = lookup(db, name, artifact, task_type="bench")
        assert found.hit and not found.stale and found.head == head, f"{artifact} is not fresh at the head"
    artifacts = sorted({a for p in planned for a in p.reasons})
    with db.session() as session:
        ran = session.execute(
            select(Job.id, Job.artifact_type, Job.started_at, Job.finished_at).where(Job.id.in_(jobs))
        ).all()
    spent = ", ".join(
        f"{row.artifact_type} {(row.finished_at - row.started_at).total_seconds():.2f}"
        for row in sorted(ran, key=lambda r: r.started_at)
    )
    # What the jobs recomputed: one file changed, so its new blob per extracting generator (and its
    # old one for recent_change_summary, which compares the two) and that file's new chunks.
    extracted = {
        row.artifact_type: counts[row.id].get("extracted") for row in ran if "extracted" in counts[row.id]
    }
    embedded = sum(c.get("chunks_embedded", 0) for c in counts.values())
    print(f"  {name} round {round_no}: {elapsed:.3f} s; job run times (s): {spent}")
    print(f"    blobs re-extracted per job: {extracted}; chunks re-embedded: {embedded}")
    touched = {artifact: 2 if artifact == "recent_change_summary" else 1 for artifact in extracted}
    assert all(n is not None and n <= touched[a] for a, n in extracted.items()), (
        "re-extracted more than the change"
    )
    return elapsed, artifacts


def diff_timings(repo: Path) -> tuple[float, float]:
    old, new = (git(repo, "rev-parse", f"{rev}^{{tree}}").strip() for rev in ("HEAD~1", "HEAD"))
    dulwich_repo = Repo(str(repo))
    ours, theirs = [], []
    for _ in range(30):
        started = time.perf_counter()
        tree_diff(dulwich_repo, old, new, renames=False)
        ours.append(time.perf_counter() - started)
    for _ in range(15):
        started = time.perf_counter()
        subprocess.run(["git", "diff-tree", "-r", old, new], cwd=repo, capture_output=True, check=True)
        theirs.append(time.perf_counter() - started)
    return statistics.median(ours), statistics.median(theirs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = Path(os.environ.get("BENCH_DIR", "/tmp/warmer-bench-commit"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    config = work / "engineering_cache.yaml"
    config.write_text("engineering_cache:\n  warmers:\n    on_commit:\n      debounce_seconds: 0\n")
    print(f"generators: {', '.join(registry.available())}")
    results: dict[str, list[float]] = {}
    for name, package in CORPORA.items():
        source = package_dir(package)
        repo = repo_from_tree(source, work / f"repo-{name}")
        db_name = services.create_database()
        db = Database(services.database_url(db_name))
        try:
            migrate.upgrade(db)
            settings = load_settings({"DATABASE_URL": db.url, "WARMER_CONFIG": str(config),
                                      "WARMER_DATA_DIR": str(work / f"data-{name}")})  # fmt: skip
            started = time.perf_counter()
            connected = connect(db, settings, str(repo), name=name, branch="main")
            assert connected.planned is not None
            run_jobs(db, settings, [job.job_id for job in connected.planned.jobs], "bench")
            warm = time.perf_counter() - started
            rounds = []
            for round_no in range(args.rounds):
                elapsed, artifacts = refresh_once(db, settings, name, repo, round_no)
                rounds.append(elapsed)
            results[name] = rounds
            ours, theirs = diff_timings(repo)
            print(f"{name}: {package} ({lines_of(source):,} lines), connect warming {warm:.1f} s; "
                  f"refresh of a one-file commit ({', '.join(artifacts)}): median {statistics.median(rounds):.3f} s "
                  f"{[round(r, 3) for r in rounds]}; tree diff {ours * 1000:.2f} ms vs git diff-tree -r "
                  f"{theirs * 1000:.2f} ms")  # fmt: skip
        finally:
            db.dispose()
            services.drop_database(db_name)
    large, small = statistics.median(results["large"]), statistics.median(results["small"])
    print(
        f"\nlarge/small ratio {large / small:.2f}   target <= 1.5  {'MET' if large / small <= 1.5 else 'MISSED'}"
    )
    print(f"large refresh     {large:.3f} s   target < 2 s   {'MET' if large < 2 else 'MISSED'}")


if __name__ == "__main__":
    main()
