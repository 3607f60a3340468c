"""Retention on a real Postgres ledger: what aged out goes in batches, what is active or recent
stays, the audit row and the pruned counters remain, and the console still adds them up."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests.console.support import add_lookups, celery_app, complete_job, fail_job
from tests.support import services
from tests.support.factories import add_job, add_repo
from warmer.ledger import totals, transitions
from warmer.ledger.db import Database
from warmer.ledger.models import CacheLookup, Job, JobEvent, LedgerAudit, LookupDaily, LookupHourly
from warmer.settings import load_settings
from warmer.worker import retention
from warmer.worker.retention import JobCleaner, RetentionPolicy

pytestmark = pytest.mark.integration


def _age(db: Database, job_id: int, hours: float) -> None:
    with db.session() as session:
        row = session.get(Job, job_id)
        assert row is not None and row.finished_at is not None
        session.execute(
            update(Job).where(Job.id == job_id).values(finished_at=row.finished_at - timedelta(hours=hours))
        )


def test_the_cleaner_prunes_what_aged_out_and_keeps_the_rest(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)  # several batches, each its own transaction
    db = Database(pg_url)
    repo = add_repo(db, name="kept")
    old_done = [add_job(db, repo, artifact_type=f"old_{n}") for n in range(5)]
    for job_id in old_done:
        complete_job(db, job_id)
        _age(db, job_id, 24 * 8)
    recent_done = add_job(db, repo, artifact_type="recent")
    complete_job(db, recent_done)
    old_failed = add_job(db, repo, artifact_type="old_failed")
    fail_job(db, old_failed, "boom")
    _age(db, old_failed, 24 * 8)  # within the failed window (30 days): a person may re-queue it
    ancient_failed = add_job(db, repo, artifact_type="ancient_failed")
    with db.session() as session:  # a reclaim, then a failure: both counted by the metrics
        claim = transitions.claim(session, ancient_failed, "w")
        assert claim is not None
        transitions.reclaim(session, ancient_failed, claim.token, "silent", max_retries=3, actor="reaper")
    fail_job(db, ancient_failed, "boom")
    _age(db, ancient_failed, 24 * 40)
    queued = add_job(db, repo, artifact_type="queued")
    now = db.now()
    add_lookups(db, repo, "repo_map", 2, 3, now - timedelta(days=40))
    add_lookups(db, repo, "repo_map", 1, 1, now - timedelta(hours=1))

    cleaner = JobCleaner(db, RetentionPolicy(24 * 7, 24 * 30, 24 * 30, 600), actor="retention:test")
    summary = cleaner.run_once(db.now())

    assert summary["jobs_completed"] == 5 and summary["jobs_failed"] == 1 and summary["lookups"] == 5
    with db.session() as session:
        left = set(session.execute(select(Job.id)).scalars())
        assert left == {recent_done, old_failed, queued}
        orphans = session.execute(select(func.count()).where(JobEvent.job_id.not_in(left))).scalar_one()
        assert orphans == 0 and summary["events"] == 5 * 4 + 6
        assert session.execute(select(func.count()).select_from(CacheLookup)).scalar_one() == 2
        # the daily rollup keeps the pruned lookups' day; the hourly one keeps 7 days only
        assert session.execute(select(func.sum(LookupDaily.lookups))).scalar_one() == 7
        assert session.execute(select(func.sum(LookupHourly.lookups))).scalar_one() == 2
        [audit] = session.execute(select(LedgerAudit).where(LedgerAudit.action == "retention")).scalars()
        assert audit.actor == "retention:test" and audit.detail["jobs_completed"] == 5
        pruned = totals.get(session, [totals.PRUNED_RECLAIMS, totals.PRUNED_RETRIES])
    assert pruned == {totals.PRUNED_RECLAIMS: 1, totals.PRUNED_RETRIES: 0}
    assert cleaner.run_once(db.now()) == dict.fromkeys(summary, 0)  # nothing more, and no audit row
    db.dispose()


def test_the_leaders_maintenance_runs_the_cleaner_with_the_configured_windows(
    pg_url: str, tmp_path: Path
) -> None:
    """Only the worker holding the leader lease prunes, with KEEPTRUSTS_CACHE_WARMER_RETAIN_*."""
    from warmer.worker.maintenance import Maintenance

    config = tmp_path / "c.yaml"
    config.write_text("")
    settings = load_settings({
        "DATABASE_URL": pg_url, "CELERY_BROKER_URL": services.REDIS_TEST_URL, "WARMER_CONFIG": str(config),
        "WARMER_DATA_DIR": str(tmp_path / "data"), "KEEPTRUSTS_CACHE_WARMER_RETAIN_COMPLETED_HOURS": "2",
        "KEEPTRUSTS_CACHE_WARMER_RETENTION_INTERVAL_SECS": "0.01",
    })  # fmt: skip
    app = celery_app(services.REDIS_TEST_URL)
    services.flush_redis()
    db = Database(pg_url)
    leader = Maintenance(app, db, settings, instance_id="w-leader")
    follower = Maintenance(app, db, settings, instance_id="w-follower")
    try:
        leader.tick()  # takes the lease
        repo = add_repo(db, name="kept")
        aged, recent = add_job(db, repo, artifact_type="aged"), add_job(db, repo, artifact_type="recent")
        for job_id in (aged, recent):
            complete_job(db, job_id)
        _age(db, aged, 3)  # past the 2 h window; the default (7 days) would keep it
        _age(db, recent, 1)
        follower.tick()
        assert not follower.is_leader and _job_ids(db) == {aged, recent}
        time.sleep(0.05)
        leader.tick()
        assert leader.is_leader and _job_ids(db) == {recent}
        with db.session() as session:
            [audit] = session.execute(select(LedgerAudit).where(LedgerAudit.action == "retention")).scalars()
        assert audit.actor == "retention:w-leader" and audit.detail["jobs_completed"] == 1
    finally:
        services.flush_redis()
        db.dispose()


def _job_ids(db: Database) -> set[int]:
    with db.session() as session:
        return set(session.execute(select(Job.id)).scalars())
