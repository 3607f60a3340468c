"""StaleJobReaper and LeaderLease on real Postgres, with the clock passed in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.support.factories import add_job, add_repo, force, job
from warmer.ledger import transitions
from warmer.ledger.db import Database
from warmer.ledger.locks import JobConnection, held_job_locks
from warmer.ledger.models import JobStatus
from warmer.worker.leader import LeaderLease
from warmer.worker.reaper import LOCK_GRACE_SECS, StaleJobReaper


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url)
    yield database
    database.dispose()


def _reaper(db: Database, max_retries: int = 3) -> StaleJobReaper:
    return StaleJobReaper(
        db, heartbeat_secs=30, stale_threshold_secs=120, max_retries=max_retries, actor="reaper:t"
    )


def _running(db: Database, worker: str = "w1") -> tuple[int, JobConnection, transitions.Claim]:
    job_id = add_job(db, add_repo(db, name=f"r-{worker}"))
    connection = JobConnection(db.engine)
    with connection.transaction() as conn:
        _locked, claim = connection.lock_and_claim(conn, job_id, worker)
        assert claim is not None
        transitions.mark_running(conn, claim)
    return job_id, connection, claim


def test_a_live_worker_is_left_alone(db: Database) -> None:
    job_id, connection, _claim = _running(db)
    reaper, now = _reaper(db), db.now()
    assert reaper.run_once(now) == [] and reaper.run_once(now + timedelta(seconds=60)) == []
    assert job(db, job_id).status == JobStatus.RUNNING
    connection.close()


def test_a_vanished_lock_is_reclaimed_on_the_second_pass_after_the_grace(db: Database) -> None:
    job_id, connection, _claim = _running(db)
    connection.close()  # the worker died: its session, and the lock, are gone
    force(db, job_id, heartbeat_at=db.now() - timedelta(seconds=5))
    reaper, now = _reaper(db), db.now()
    assert reaper.run_once(now) == []  # first sight of the absence: not yet
    assert reaper.run_once(now + timedelta(seconds=LOCK_GRACE_SECS / 2)) == []
    (reclaimed,) = reaper.run_once(now + timedelta(seconds=LOCK_GRACE_SECS + 0.1))
    assert reclaimed.job_id == job_id and reclaimed.new_status == JobStatus.QUEUED
    assert "no session has held the job's lock" in reclaimed.reason
    row = job(db, job_id)
    assert (row.status, row.reclaims, row.worker_id, row.published_at) == (JobStatus.QUEUED, 1, None, None)


def test_a_lock_that_comes_back_is_not_reclaimed(db: Database) -> None:
    job_id, connection, _claim = _running(db)
    key = connection.key
    connection._discard()  # a connection blip: the lock is gone for a moment
    force(db, job_id, heartbeat_at=db.now() - timedelta(seconds=5))
    reaper, now = _reaper(db), db.now()
    assert reaper.run_once(now) == []
    connection.key = key
    assert connection.holds_lock()  # the heartbeat thread's check re-takes it on a new connection
    assert reaper.run_once(now + timedelta(seconds=LOCK_GRACE_SECS + 1)) == []
    assert job(db, job_id).status == JobStatus.RUNNING
    connection.close()


def test_a_hung_worker_is_reclaimed_after_the_threshold_and_fenced(db: Database) -> None:
    job_id, connection, claim = _running(db)
    force(db, job_id, heartbeat_at=db.now() - timedelta(seconds=121))  # alive session, silent job
    reaper = _reaper(db)
    (reclaimed,) = reaper.run_once(db.now())
    assert "heartbeat stale for 121s" in reclaimed.reason
    with db.engine.connect() as conn:
        assert held_job_locks(conn, [job_id]) == set()  # its session was ended: the job can run elsewhere
    # The hung worker wakes up: its connection is dead and its claim token is void.
    with pytest.raises(Exception), connection.transaction() as conn:  # noqa: B017 - any disconnect error
        transitions.mark_completed(conn, claim)
    with db.session() as session:
        assert not transitions.mark_completed(session, claim)
    assert job(db, job_id).status == JobStatus.QUEUED


def test_reclaims_past_max_retries_fail_the_job(db: Database) -> None:
    job_id, connection, _claim = _running(db)
    force(db, job_id, reclaims=1)
    connection.close()
    reaper, now = _reaper(db, max_retries=1), db.now()
    reaper.run_once(now)
    (reclaimed,) = reaper.run_once(now + timedelta(seconds=LOCK_GRACE_SECS + 5))
    assert reclaimed.new_status == JobStatus.FAILED
    row = job(db, job_id)
    assert row.status == JobStatus.FAILED and "no session has held" in (row.error or "")


def test_the_lease_has_one_holder_and_passes_on_when_it_lapses(db: Database) -> None:
    first, second = LeaderLease(db, "a", ttl_secs=1), LeaderLease(db, "b", ttl_secs=1)
    assert first.hold() and not second.hold()
    assert first.hold()  # renewal
    time.sleep(1.2)  # `a` hangs and does not renew
    assert second.hold() and not first.hold()
    second.release()
    assert first.hold()
