"""Chaos, sized for the suite: 1,500 jobs on 4 real workers (2 pool processes each) with a
`kill -9` every 2-4 s (main processes alone, orphaning their children mid-job, and pool children),
one Redis FLUSHALL, one Redis restart and one Postgres crash, on private servers. Nothing may be
lost or stuck, nothing completed twice, no job run in two processes at once (from the generator's
own log), and every job a kill cut short is queued again with a new message within 30 s (the
suite's fast clocks: heartbeat 1 s, stale after 20 s) and runs again within 30 s. bench/chaos.py runs the same at 10,000 jobs with the default clocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import Cluster
from tests.support.chaos import ChaosPlan, run_chaos, summary
from warmer.ledger.models import Repository

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("cluster", ["private"], indirect=True)]

# 1,500 x 0.2 s on 8 pool processes: about 40 s of work, every fault lands mid-run.
PLAN = ChaosPlan(jobs=1500, job_seconds=0.2, kill_every=(2.0, 4.0), flushall_at=6.0, redis_restart_at=15.0,
                 postgres_crash_at=24.0, settle_secs=180.0)  # fmt: skip
MAX_RECOVERY_SECS = 30.0


def test_nothing_lost_stuck_or_run_twice_under_kills_and_outages(
    cluster: Cluster, repo_in_ledger: tuple[Repository, str], tmp_path: Path
) -> None:
    repo, head = repo_in_ledger
    report = run_chaos(cluster, repo, head, PLAN, tmp_path / "runs.log")
    print("\n".join(report.lines()))
    assert not report.stuck and not report.failed, (summary(report), cluster.logs())
    assert not report.completed_twice and not report.overlaps, summary(report)
    assert sum(f.kind.startswith("kill") for f in report.faults) >= 5  # the chaos happened
    assert all(f.recovered_after is not None for f in report.faults), report.lines()
    assert report.seconds > PLAN.postgres_crash_at  # jobs were still running at the last fault
    # Back in the queue with a new message, and running again (jobs published again are served
    # oldest first, so a younger flushed backlog does not wait in front of them).
    assert len(report.kill_requeues()) == sum(bool(f.affected) for f in report.faults)
    assert max(report.kill_requeues(), default=0) <= MAX_RECOVERY_SECS, report.lines()
    assert max(report.kill_recoveries(), default=0) <= MAX_RECOVERY_SECS, report.lines()
