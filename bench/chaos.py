"""Chaos at size, on demand: 10,000 jobs over 4 real workers (2 pool processes each) with a random
`kill -9` every 3-6 s (main processes alone and pool children), one Redis FLUSHALL, one Redis
restart and one Postgres crash, on a private Redis and Postgres this script starts on free ports.

    python bench/chaos.py [--jobs 10000] [--job-seconds 0.1] [--fast-clocks]

The workers run with the default clocks (heartbeat, stale threshold, poll interval), unless
--fast-clocks gives them the test suite's. Printed beside the targets: lost or stuck 0, completed
twice 0, run concurrently twice 0 (from the generator's own start/end log); the time from each
kill until the ledger has the jobs it cut short queued again with a new message (target max <= 30 s
at the defaults) and until they run again (the same target; it adds the wait behind older jobs
published again); and from each outage to the next job start. tests/integration/test_chaos.py runs the same at 1,500 jobs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.conftest import WORKER_ENV, private_cluster  # noqa: E402
from tests.support.chaos import ChaosPlan, run_chaos  # noqa: E402
from tests.support.factories import add_repo  # noqa: E402
from tests.support.gitrepo import git, make_repo  # noqa: E402
from warmer.ledger import queries  # noqa: E402

MAX_RECOVERY_SECS = 30.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--job-seconds", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--fast-clocks", action="store_true", help="the test suite's heartbeat and stale clocks"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="warmer-bench-chaos-"))
    clusters = private_cluster(work)
    cluster = next(clusters)
    try:
        if not args.fast_clocks:
            for name in WORKER_ENV:
                if name.startswith("KEEPTRUSTS_CACHE_WARMER_"):
                    cluster.env.pop(name, None)
        repo_dir = make_repo(work / "small", {"app/main.py": "def main():\n    return 1\n"})
        repo = add_repo(cluster.db, source=str(repo_dir), name="small")
        head = git(repo_dir, "rev-parse", "HEAD").strip()
        seconds = args.jobs * args.job_seconds / (args.workers * 2)
        plan = ChaosPlan(jobs=args.jobs, job_seconds=args.job_seconds, workers=args.workers,
                         flushall_at=seconds * 0.2, redis_restart_at=seconds * 0.45,
                         postgres_crash_at=seconds * 0.7, settle_secs=max(600.0, seconds))  # fmt: skip
        print(f"{args.jobs} jobs x {args.job_seconds} s on {args.workers} workers x 2 "
              f"({'fast' if args.fast_clocks else 'default'} clocks); load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
        report = run_chaos(cluster, repo, head, plan, work / "runs.log")
        for line in report.lines():
            print(line)
        slow = [
            f
            for f in report.faults
            if f.kind.startswith("kill") and (f.recovered_after or 0) > MAX_RECOVERY_SECS
        ]
        with cluster.db.session() as session:  # what the ledger saw of each slow recovery
            for fault in slow:
                for tag in fault.affected:
                    print(f"  {fault.kind} at {fault.at:.1f} s, job {report.job_ids[int(tag)]}:")
                    for event in queries.events(session, report.job_ids[int(tag)]):
                        at = event.at.timestamp() - report.started_at
                        print(
                            f"    {at:7.1f} s {event.from_status} -> {event.to_status} {event.actor}: {event.detail}"
                        )
        kills = report.kill_requeues()
        bad = len(report.stuck) + len(report.failed) + len(report.completed_twice) + len(report.overlaps)
        print(f"target 0 lost/stuck/failed/twice/concurrent: {bad} {'MET' if bad == 0 else 'MISSED'}")
        worst = max(kills, default=0.0)
        running = max(report.kill_recoveries(), default=0.0)
        print(f"target kill -> running again max <= {MAX_RECOVERY_SECS:g} s: {running:.1f} s "
              f"{'MET' if running <= MAX_RECOVERY_SECS else 'MISSED'}")  # fmt: skip
        print(f"target kill -> queued again max <= {MAX_RECOVERY_SECS:g} s: {worst:.1f} s "
              f"{'MET' if worst <= MAX_RECOVERY_SECS else 'MISSED'}; load {os.getloadavg()[0]:.2f}")  # fmt: skip
    finally:
        clusters.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
