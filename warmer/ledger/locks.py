"""Postgres session advisory locks: a running job's liveness signal, and leader election.

A worker holds the job's lock on a dedicated connection while the job runs.
If the worker is SIGKILLed its connection closes and the lock vanishes at
once, which the reaper can see in pg_locks long before the heartbeat turns
stale. A lock is a hint, not proof (a dropped connection also releases it
while the job may still run), so the reaper also asks for a missed heartbeat.
SQLite (the embedded single-process ledger) has no such locks and needs none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

# High 32 bits of warmer's lock keys ("WARM", "WARN"), so we never collide with other users.
_JOB_NAMESPACE = 0x5741524D
_LEADER_NAMESPACE = 0x5741524E
LEADER_KEY = _LEADER_NAMESPACE << 32


def job_lock_key(job_id: int) -> int:
    """The bigint advisory-lock key of a job; Postgres shows it as (classid, objid) in pg_locks."""
    return (_JOB_NAMESPACE << 32) | (job_id & 0xFFFFFFFF)


class SessionLock:
    """One session-level advisory lock held on its own pooled connection."""

    def __init__(self, engine: Engine, key: int) -> None:
        self.engine = engine
        self.key = key
        self.connection: Connection | None = None

    def acquire(self) -> bool:
        """Try once; False if another session holds it."""
        if self.engine.dialect.name != "postgresql":
            return True
        conn = self.engine.connect()
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar_one()
            conn.commit()
        except Exception:
            conn.invalidate()
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self.connection = conn
        return True

    def held(self) -> bool:
        """Re-check on our own connection; re-acquire it if the connection was replaced."""
        if self.engine.dialect.name != "postgresql":
            return True
        if self.connection is None or self.connection.invalidated or self.connection.closed:
            self.release()
            return self.acquire()
        row = self.connection.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND objsubid = 1"
                " AND classid::bigint = :high AND objid::bigint = :low"
            ),
            {"high": self.key >> 32, "low": self.key & 0xFFFFFFFF},
        ).scalar_one()
        self.connection.commit()
        return bool(row)

    def release(self) -> None:
        """Unlock and return the connection; a broken connection is discarded, which also unlocks."""
        conn, self.connection = self.connection, None
        if conn is None:
            return
        try:
            if not conn.invalidated and not conn.closed:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                conn.commit()
        except Exception:  # the session is gone, and the lock with it
            log.debug("advisory unlock failed; discarding the connection", exc_info=True)
            conn.invalidate()
        finally:
            conn.close()


def held_job_locks(conn: Connection, job_ids: Iterable[int]) -> set[int]:
    """Which of these jobs have a live session holding their lock right now."""
    ids = list(job_ids)
    if not ids or conn.dialect.name != "postgresql":
        return set(ids)
    rows = conn.execute(
        text(
            "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND objsubid = 1 AND classid::bigint = :ns AND objid::bigint = ANY(:ids)"
        ),
        {"ns": _JOB_NAMESPACE, "ids": [i & 0xFFFFFFFF for i in ids]},
    ).scalars()
    held_low = set(rows)
    return {i for i in ids if (i & 0xFFFFFFFF) in held_low}
