"""LeaderLease: which worker instance runs the maintenance duties (reaper, poller, pruning).

A lease in the ledger, not a lock: the leader renews it every tick, and any
instance takes it over once it has not been renewed for `ttl` seconds. A
session advisory lock would not do: a hung (SIGSTOPped, swapped-out) leader
keeps its connection open, since the kernel still answers TCP keepalives, and
would hold the lock, and stop all reaping, forever. Two leaders overlapping for
a moment is harmless: every action they take is a guarded transition.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from warmer.ledger.db import Database, utcnow
from warmer.ledger.models import ClusterState

LEASE_KEY = "maintenance_leader"


class LeaderLease:
    def __init__(self, db: Database, instance_id: str, ttl_secs: float) -> None:
        self.db = db
        self.instance_id = instance_id
        self.ttl = timedelta(seconds=ttl_secs)

    def hold(self) -> bool:
        """Take or renew the lease; True if this instance leads until the next renewal."""
        now = self.db.now()
        table = ClusterState.__table__
        with self.db.session() as session:
            builder = postgresql.insert if self.db.is_postgres else sqlite.insert
            session.execute(
                builder(table).values(key=LEASE_KEY, value=self.instance_id).on_conflict_do_nothing()
            )
            renewed = session.execute(
                update(table)
                .where(
                    table.c.key == LEASE_KEY,
                    (table.c.value == self.instance_id) | (table.c.updated_at < now - self.ttl),
                )
                .values(value=self.instance_id, updated_at=utcnow())
            ).rowcount
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
