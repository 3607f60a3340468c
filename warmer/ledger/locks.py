"""Postgres session advisory locks: a running job's liveness signal.

A worker process holds the job's lock on its own connection while the job
runs. If the worker is SIGKILLed its connection closes and the lock vanishes at
once, which the reaper sees in pg_locks long before the heartbeat turns stale.
A lock is a hint, not proof (a dropped connection also releases it while the
job may still run), so the reaper waits until the absence has lasted across
two passes, and the worker re-takes its lock within a second after a
reconnect. SQLite (the embedded single-process ledger) has no such locks and
needs none.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from warmer.ledger import transitions
from warmer.ledger.transitions import Claim

log = logging.getLogger(__name__)

# High 32 bits of warmer's job lock keys ("WARM"), so we never collide with other users.
_JOB_NAMESPACE = 0x5741524D


def job_lock_key(job_id: int) -> int:
    """The bigint advisory-lock key of a job; Postgres shows it as (classid, objid) in pg_locks."""
    return (_JOB_NAMESPACE << 32) | (job_id & 0xFFFFFFFF)


def session_holds(conn: Connection, key: int) -> bool:
    """Whether this connection's own session holds the advisory lock `key` right now."""
    return bool(
        conn.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND objsubid = 1"
                " AND classid::bigint = :high AND objid::bigint = :low"
            ),
            {"high": key >> 32, "low": key & 0xFFFFFFFF},
        ).scalar_one()
    )


def terminate_holder(conn: Connection, job_id: int) -> int | None:
    """End the database session holding a job's lock (a hung worker), so the job can run elsewhere.

    Fencing: the hung worker's later statements fail on a closed connection, and
    its claim token no longer matches anyway. Returns the pid ended, if any."""
    if conn.dialect.name != "postgresql":
        return None
    pid = conn.execute(
        text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
            " AND classid::bigint = :ns AND objid::bigint = :low"
        ),
        {"ns": _JOB_NAMESPACE, "low": job_id & 0xFFFFFFFF},
    ).scalar_one_or_none()
    if pid is not None:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    return pid


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


class JobConnection:
    """A worker process's own connection: it holds the advisory lock of the job the process runs
    and carries that job's transitions, so running a job costs no pool checkout.

    The runner thread and the job's heartbeat thread share it; a mutex serializes them. If the
    connection breaks, the next user gets a new one (and the heartbeat re-takes the lock on it).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.mutex = threading.RLock()
        self._conn: Connection | None = None
        self.key: int | None = None  # the job lock this connection should hold

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.invalidated or self._conn.closed:
            self._conn = self.engine.connect()
            if self.postgres:
                # Transitions after the claim commit without waiting for the WAL flush. Losing
                # one in a database crash is safe: the job then looks claimed or running with no
                # lock, and the reaper runs it again. The claim itself stays durable (see lock_and_claim).
                self._conn.exec_driver_sql("SET synchronous_commit TO OFF")
                self._conn.commit()
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction on the job connection; a broken connection is discarded on the way out."""
        with self.mutex:
            conn = self._connection()
            try:
                with conn.begin():
                    yield conn
            except DBAPIError:
                self._discard()
                raise

    def lock_and_claim(self, conn: Connection, job_id: int, worker_id: str) -> tuple[bool, Claim | None]:
        """Take the job's lock for this session and claim the job (one statement on Postgres).

        The session lock outlives the transaction. Returns (locked, claim)."""
        key = job_lock_key(job_id)
        if self.postgres:
            locked, claim = transitions.lock_and_claim(conn, job_id, worker_id, key)
        else:
            locked, claim = True, transitions.claim(conn, job_id, worker_id)
        if locked:
            self.key = key
        return locked, claim

    def forget_lock(self) -> None:
        """The lock was released by a statement of the caller's (see mark_completed)."""
        self.key = None

    def holds_lock(self) -> bool:
        """True if this session still holds the job's lock, re-taking it after a reconnect."""
        if not self.postgres or self.key is None:
            return True
        with self.transaction() as conn:
            held = session_holds(conn, self.key)
            if not held:  # a new connection after a blip: take the lock back unless someone else has it
                held = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar_one()
        return bool(held)

    def unlock(self) -> None:
        """Release the job's lock, if this session still holds one."""
        key, self.key = self.key, None
        if key is None or not self.postgres:
            return
        try:
            with self.transaction() as own:
                own.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        except DBAPIError:  # the session is gone, and the lock with it
            log.debug("advisory unlock failed; the connection was discarded", exc_info=True)

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()
                conn.close()

    def close(self) -> None:
        self.unlock()
        with self.mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
