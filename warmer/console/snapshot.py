"""One consistent read of the ledger per page: every count and row a page shows comes from it.

On Postgres a REPEATABLE READ, READ ONLY transaction: all its statements see the database as of
its first one, so a tile saying "3 failed" and the table under it listing the failed jobs
cannot disagree for a frame while workers move jobs on. The clock is read inside it too. SQLite
(the embedded, single-writer ledger) already reads one snapshot per transaction in WAL mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from warmer.ledger.db import Database, UTCDateTime


@contextmanager
def snapshot(db: Database) -> Iterator[tuple[Session, datetime]]:
    """(session, now): a read-only session on one snapshot, and the database's time at its start."""
    with db.engine.connect() as conn:
        if db.is_postgres:
            conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            sql = "SELECT clock_timestamp()"
        else:
            sql = "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"
        with conn.begin(), Session(bind=conn, expire_on_commit=False) as session:
            value = session.execute(text(sql)).scalar_one()
            if isinstance(value, str):
                value = datetime.fromisoformat(value).replace(tzinfo=UTC)
            now = UTCDateTime().process_result_value(value, conn.dialect)
            assert now is not None
            yield session, now
