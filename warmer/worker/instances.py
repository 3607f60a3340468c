"""Warmer instances: one row per worker start, kept alive by its heartbeat."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, update

from warmer.ledger.db import Database, utcnow
from warmer.ledger.models import WarmerInstance


def register(db: Database, instance_id: str, hostname: str, pid: int, concurrency: int) -> None:
    with db.session() as session:
        session.execute(
            insert(WarmerInstance).values(id=instance_id, hostname=hostname, pid=pid, concurrency=concurrency)
        )


def beat(db: Database, instance_id: str) -> None:
    with db.session() as session:
        session.execute(
            update(WarmerInstance).where(WarmerInstance.id == instance_id).values(heartbeat_at=utcnow())
        )


def stopped(db: Database, instance_id: str) -> None:
    with db.session() as session:
        session.execute(
            update(WarmerInstance)
            .where(WarmerInstance.id == instance_id, WarmerInstance.stopped_at.is_(None))
            .values(stopped_at=utcnow())
        )


def prune_dead(db: Database, now: datetime, stale_after_secs: float) -> int:
    """Mark instances silent for longer than the stale threshold as stopped (rows stay, for audit).
    Their jobs are reclaimed by the reaper on their own job heartbeats, before or after this."""
    with db.session() as session:
        return session.execute(
            update(WarmerInstance)
            .where(
                WarmerInstance.stopped_at.is_(None),
                WarmerInstance.heartbeat_at < now - timedelta(seconds=stale_after_secs),
            )
            .values(stopped_at=utcnow())
        ).rowcount
