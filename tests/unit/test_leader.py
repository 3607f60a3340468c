"""The leader lease: one leader; a dead leader (its session gone) is replaced at the next tick, a
hung one (still holding its lock) once its lease lapses; on real Postgres, and SQLite by lease only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from warmer.ledger.db import Database, utcnow
from warmer.ledger.models import ClusterState
from warmer.worker.leader import LEASE_KEY, LeaderLease


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url)
    yield database
    database.dispose()


def test_a_killed_leader_is_replaced_without_waiting_out_its_lease(db: Database) -> None:
    a, b = LeaderLease(db, "a", ttl_secs=3600), LeaderLease(db, "b", ttl_secs=3600)
    assert a.hold() and not b.hold()
    assert a._sign_of_life is not None
    a._sign_of_life.invalidate()  # what kill -9 does to its session: gone, lock and all
    assert b.hold()  # at once, though a's lease has an hour left
    assert not a.hold()  # a (had it survived) sees the lease is b's and steps down
    assert b.hold()


def test_a_hung_leader_keeps_its_lock_but_loses_the_lease_when_it_lapses(db: Database) -> None:
    a, b = LeaderLease(db, "a", ttl_secs=3600), LeaderLease(db, "b", ttl_secs=3600)
    assert a.hold()
    assert not b.hold()  # a holds its lock: alive, as far as anyone can tell
    with db.session() as session:  # an hour passes without a renewal (a is SIGSTOPped)
        session.execute(
            update(ClusterState)
            .where(ClusterState.key == LEASE_KEY)
            .values(updated_at=utcnow() - timedelta(hours=2))
        )
    assert b.hold()  # by the lease alone: a's lock is still held
    assert not a.hold()  # a resumes: not its lease any more, and it lets its lock go
    assert a._sign_of_life is None
    assert b.hold() and b._sign_of_life is not None


def test_release_hands_over_at_once(db: Database) -> None:
    a, b = LeaderLease(db, "a", ttl_secs=3600), LeaderLease(db, "b", ttl_secs=3600)
    assert a.hold()
    a.release()
    assert b.hold()


def test_sqlite_leads_by_lease(sqlite_db: Database) -> None:
    a, b = LeaderLease(sqlite_db, "a", ttl_secs=3600), LeaderLease(sqlite_db, "b", ttl_secs=3600)
    assert a.hold() and not b.hold() and a._sign_of_life is None
