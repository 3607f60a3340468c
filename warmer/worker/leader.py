"""LeaderLease: which worker instance runs the maintenance duties (reaper, poller, pruning).

A lease in the ledger, not a lock: the leader renews it every tick, and any
instance takes it over once it has not been renewed for `ttl` seconds. A
session advisory lock alone would not do: a hung (SIGSTOPped, swapped-out)
leader keeps its connection open, since the kernel still answers TCP
keepalives, and would hold the lock, and stop all reaping, forever.

On Postgres the leader also holds a session advisory lock on a connection of
its own, as a sign of life (GoodJob's pattern): a SIGKILLed leader's connection
closes and the lock vanishes at once, so another instance takes the lease over
at its next tick instead of waiting out the ttl. The lock only hastens a
takeover; the lease decides. Two leaders overlapping for a moment is harmless:
every action they take is a guarded transition.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from sqlalchemy import or_, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from warmer.ledger.db import Database, utcnow
from warmer.ledger.models import ClusterState

LEASE_KEY = "maintenance_leader"
# An advisory lock key of its own ("WARL", 1), apart from the job locks' namespace ("WARM").
_LOCK_NAMESPACE, _LOCK_ID = 0x5741524C, 1
_LOCK_KEY = (_LOCK_NAMESPACE << 32) | _LOCK_ID
_NO_LEADER_ALIVE = text(
    "NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
    f" AND classid::bigint = {_LOCK_NAMESPACE} AND objid::bigint = {_LOCK_ID})"
)


class LeaderLease:
    def __init__(self, db: Database, instance_id: str, ttl_secs: float) -> None:
        self.db = db
        self.instance_id = instance_id
        self.ttl = timedelta(seconds=ttl_secs)
        self._sign_of_life: Connection | None = None  # Postgres: the connection holding the lock

    def hold(self) -> bool:
        """Take or renew the lease; True if this instance leads until the next renewal."""
        now = self.db.now()
        table = ClusterState.__table__
        takeover = table.c.updated_at < now - self.ttl
        if self.db.is_postgres:  # or the leader's sign of life is gone: it died
            takeover = or_(takeover, _NO_LEADER_ALIVE)
        with self.db.session() as session:
            builder = postgresql.insert if self.db.is_postgres else sqlite.insert
            session.execute(
                builder(table).values(key=LEASE_KEY, value=self.instance_id).on_conflict_do_nothing()
            )
            renewed = session.execute(
                update(table)
                .where(table.c.key == LEASE_KEY, (table.c.value == self.instance_id) | takeover)
                .values(value=self.instance_id, updated_at=utcnow())
            ).rowcount
        if renewed:
            self._keep_sign_of_life()
        else:
            self._drop_sign_of_life()
        return bool(renewed)

    def release(self) -> None:
        """Give the lease up at shutdown so another instance takes over at once."""
        table = ClusterState.__table__
        with self.db.session() as session:
            session.execute(
                update(table)
                .where(table.c.key == LEASE_KEY, table.c.value == self.instance_id)
                .values(updated_at=utcnow() - self.ttl * 2)
            )
        self._drop_sign_of_life()

    def _keep_sign_of_life(self) -> None:
        """Hold the leader lock (taking it again on a new connection after a reconnect). Held by
        someone else (a hung former leader), it is simply not had: the lease still decides."""
        if not self.db.is_postgres:
            return
        conn = self._sign_of_life
        if conn is None or conn.invalidated or conn.closed:
            conn = self._sign_of_life = self.db.engine.connect()
        try:
            mine = conn.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
                     " AND pid = pg_backend_pid() AND classid::bigint = :ns AND objid::bigint = :id"),
                {"ns": _LOCK_NAMESPACE, "id": _LOCK_ID},
            ).scalar_one()  # fmt: skip
            if not mine:
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK_KEY})
            conn.commit()
        except Exception:
            self._drop_sign_of_life()
            raise

    def _drop_sign_of_life(self) -> None:
        conn, self._sign_of_life = self._sign_of_life, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()  # the session ends, and its lock with it
