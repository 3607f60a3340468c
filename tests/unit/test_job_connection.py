"""The worker's job connection on real Postgres: lock and claim in one statement, lock released on completion."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.support.factories import add_job, add_repo, job
from warmer.ledger import transitions
from warmer.ledger.db import Database
from warmer.ledger.locks import JobConnection, held_job_locks
from warmer.ledger.models import JobStatus


@pytest.fixture
def db(pg_url: str) -> Database:
    database = Database(pg_url)
    yield database
    database.dispose()


def _held(db: Database, job_id: int) -> bool:
    with db.engine.connect() as conn:
        return job_id in held_job_locks(conn, [job_id])


def test_lock_and_claim_then_a_second_session_is_refused(db: Database) -> None:
    job_id = add_job(db, add_repo(db))
    first, second = JobConnection(db.engine), JobConnection(db.engine)
    with first.transaction() as conn:
        locked, claim = first.lock_and_claim(conn, job_id, "w1")
    assert locked and claim is not None and claim.attempt == 1 and _held(db, job_id)
    with second.transaction() as conn:
        assert second.lock_and_claim(conn, job_id, "w2") == (False, None)
    assert job(db, job_id).worker_id == "w1"
    with first.transaction() as conn:
        assert transitions.mark_running(conn, claim)
        assert transitions.mark_completed(conn, claim, release_lock=first.key)
    assert not _held(db, job_id)  # the completing statement released it
    assert job(db, job_id).status == JobStatus.COMPLETED
    first.close()
    second.close()


def test_locked_but_not_queued_leaves_the_lock_for_the_caller_to_release(db: Database) -> None:
    job_id = add_job(db, add_repo(db))
    runner = JobConnection(db.engine)
    with runner.transaction() as conn:
        runner.lock_and_claim(conn, job_id, "w1")
    other = JobConnection(db.engine)
    runner.unlock()
    with other.transaction() as conn:
        assert other.lock_and_claim(conn, job_id, "w2") == (True, None)  # lock free, job no longer queued
    assert _held(db, job_id)
    other.unlock()
    assert not _held(db, job_id)
    runner.close()
    other.close()


def test_a_lost_completion_does_not_release_the_lock(db: Database) -> None:
    job_id = add_job(db, add_repo(db))
    conn_ = JobConnection(db.engine)
    with conn_.transaction() as conn:
        _locked, claim = conn_.lock_and_claim(conn, job_id, "w1")
        assert claim is not None
        transitions.mark_running(conn, claim)
    stale = transitions.Claim(claim.job_id, "not-the-token", "w1", 1, claim.artifact_type)
    with conn_.transaction() as conn:
        assert not transitions.mark_completed(conn, stale, release_lock=conn_.key)
    assert _held(db, job_id)
    conn_.close()
    assert not _held(db, job_id)


def test_the_job_connection_commits_asynchronously_except_the_claim(db: Database) -> None:
    job_id = add_job(db, add_repo(db))
    conn_ = JobConnection(db.engine)
    with conn_.transaction() as conn:
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
        conn_.lock_and_claim(conn, job_id, "w1")
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
    with conn_.transaction() as conn:
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
    conn_.close()


def test_a_client_frozen_inside_a_transaction_is_ended_by_the_server(db: Database) -> None:
    """A SIGSTOPped leader once held the lease row forever; the server now ends such sessions."""
    with db.engine.connect() as conn:
        assert conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar_one() == "15s"
